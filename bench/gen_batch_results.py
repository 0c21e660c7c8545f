#!/usr/bin/env python3
"""Answers a batch export's requests as OpenAI's Batch API would, every one a success.

Usage: bench/gen_batch_results.py DIR OUT [SEED]

Reads the custom_id of every line of DIR/requests-*.jsonl and writes one line per request into
OUT/results-00000.jsonl, ...: as many files as there are requests files, each with as many
lines as its requests file, but the results of all files shuffled together (seeded, SEED
default 12), as a batch returns them in no particular order. A line is

  {"id":"batch_req_<n>","custom_id":"pg-...","response":{"status_code":200,
   "request_id":"req_<n>","body":<bench/completion.json, its id made chatcmpl-bench-<n>>},
   "error":null}

so every body is a chat.completion whose content is a 615-byte math problem starting
"Math problem:", finish_reason "stop", with usage. The request lines are not parsed: export
writes custom_id first (`{"custom_id":"pg-...",`), and a line that does not start so stops the
script.
"""

import json
import os
import pathlib
import random
import sys

PREFIX = b'{"custom_id":"'


def custom_ids(path: pathlib.Path) -> list[bytes]:
    ids = []
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            end = line.find(b'"', len(PREFIX))
            if not line.startswith(PREFIX) or end < 0:
                sys.exit(f"gen_batch_results: {path}:{number}: does not start with {PREFIX!r}")
            ids.append(line[len(PREFIX):end])
    return ids


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) == 4 else 12
    inputs = sorted(src.glob("requests-*.jsonl"))
    if not inputs:
        sys.exit(f"gen_batch_results: no requests-*.jsonl in {src}")
    counts, ids = [], []
    for path in inputs:
        file_ids = custom_ids(path)
        counts.append(len(file_ids))
        ids += file_ids
    random.Random(seed).shuffle(ids)

    body = json.loads(pathlib.Path(__file__).with_name("completion.json").read_text())
    body["id"] = "@ID@"
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    head, tail = (part.encode() for part in text.split("@ID@"))
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for file_number, count in enumerate(counts):
        path = out / f"results-{file_number:05d}.jsonl"
        with open(f"{path}.tmp", "wb") as f:
            chunk = []
            for custom_id in ids[n:n + count]:
                n += 1
                k = b"%d" % n
                chunk.append(b'{"id":"batch_req_' + k + b'","custom_id":"' + custom_id +
                             b'","response":{"status_code":200,"request_id":"req_' + k +
                             b'","body":' + head + b"chatcmpl-bench-" + k + tail +
                             b'},"error":null}\n')
                if len(chunk) == 10000:
                    f.write(b"".join(chunk))
                    chunk.clear()
            f.write(b"".join(chunk))
        os.replace(f"{path}.tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
