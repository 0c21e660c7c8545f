#!/usr/bin/env python3
"""Writes N math-problem records as `synth -t math` writes them, the same N lines on every run.

Usage: bench/gen_records.py N FILE

Each line is {"custom_id": "pg-<32 hex digits of k>", "persona": "...", "output": "Math problem:
..."}: the three fields that `synth -t solve` reads from a record (the output is the problem,
the persona and the custom_id travel into the new record as provenance). The persona is line k
of bench/gen_personas.py; the problem (422 to 551 bytes, 487 on average) is built from it and
from numbers drawn from k, so problems are distinct, the same on every run, and a smaller file
is a prefix of a larger one.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_personas import COMBINATIONS, SCRAMBLE, persona  # noqa: E402

THINGS = ["seedlings", "jars of honey", "bus tickets", "sample vials", "chess boards",
          "loaves of bread", "spare valves", "library books", "solar panels", "trail markers"]
PLACES = [("crate", "crates"), ("shelf", "shelves"), ("van", "vans"), ("tray", "trays"),
          ("box", "boxes"), ("rack", "racks"), ("bag", "bags"), ("cart", "carts")]


def problem(k: int, who: str) -> str:
    mixed = k * SCRAMBLE
    a, b, c = 3 + mixed % 17, 2 + (mixed >> 8) % 23, 1 + (mixed >> 16) % 9
    things = THINGS[(mixed >> 24) % len(THINGS)]
    place, places = PLACES[(mixed >> 28) % len(PLACES)]
    return (f"Math problem: {who}, is sorting {things} for a community event. There are {a} "
            f"{places} with {b} {things} in each, and a late delivery adds {c} more {places} of "
            f"the same size. Every {place} must end up with the same number of {things}, "
            f"and {k % 97 + 2} volunteers share the work equally.\n\n"
            f"(a) How many {things} are there in all?\n"
            f"(b) How many does each volunteer handle, and how many are left over?")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    count, path = int(sys.argv[1]), sys.argv[2]
    if count > COMBINATIONS:
        print(f"gen_records: at most {COMBINATIONS} distinct records", file=sys.stderr)
        return 2
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        lines = []
        for k in range(1, count + 1):
            who = persona(k)
            lines.append(json.dumps({"custom_id": f"pg-{k:032x}", "persona": who,
                                     "output": problem(k, who)}))
            if len(lines) == 10000:
                out.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            out.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
