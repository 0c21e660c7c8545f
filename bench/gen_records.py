#!/usr/bin/env python3
"""Writes N math-problem records as `synth -t math` writes them, the same N lines on every run.

Usage: bench/gen_records.py N FILE [--full]

Each line is {"custom_id": "pg-<32 hex digits of k>", "persona": "...", "output": "Math problem:
..."}: the three fields that `synth -t solve` reads from a record (the output is the problem,
the persona and the custom_id travel into the new record as provenance). The persona is line k
of bench/gen_personas.py; the problem (422 to 551 bytes, 487 on average) is built from it and
from numbers drawn from k, so problems are distinct, the same on every run, and a smaller file
is a prefix of a larger one.

With --full (for bench/report.sh) each line is a whole `synth -t math` record, every field that
`personagen report` reads: custom_id, persona, task, method, model, an output of 40 to 80 words,
parsed, finish_reason ("length" for about 1%), usage, attempts (2 for about 4%, 3 for about
0.5%) and synthetic. About 30% of the outputs open with one of four fixed templates ("Math
problem: A farmer ..."), the collapse the report's openings table shows; the others open with
the persona's own words. Every 20th record (5%) repeats the one before it with its last word
changed, a near duplicate at Jaccard about 0.95.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_personas import COMBINATIONS, SCRAMBLE, persona, write_lines  # noqa: E402

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


TEMPLATES = ["Math problem: A farmer named {name} plans ahead.",
             "Math problem: A baker named {name} plans ahead.",
             "Consider a small town where {name} plans ahead.",
             "Imagine you are {name}, who plans ahead."]
SENTENCES = ["a shipment of {n} {things} arrives every {m} days", "each {place} holds {m} more "
             "than the one before", "the cost rises by {p} percent after the first week",
             "a second team works {m} hours a day at half the rate", "the records show {n} "
             "{things} were lost in transit", "the schedule must finish before day {n}",
             "the remaining budget is {n} dollars", "{m} of the {places} are already full",
             "the ratio of old to new {things} is {m} to {p}", "prices are rounded to the "
             "nearest cent", "a discount of {p} percent applies to orders above {n}"]
QUESTIONS = ["How many {things} are there at the end?", "What is the total cost, in dollars?",
             "How many days does the work take?", "What fraction of the {places} is full?",
             "What is the expected number of {things} lost?"]


def full_output(k: int, who: str) -> str:
    """A math problem of about 40 to 80 words, its opening collapsed to a template for 30% of k."""
    mixed = k * SCRAMBLE
    things = THINGS[(mixed >> 24) % len(THINGS)]
    place, places = PLACES[(mixed >> 28) % len(PLACES)]
    values = {"n": 10 + mixed % 490, "m": 2 + (mixed >> 9) % 40, "p": 5 + (mixed >> 17) % 45,
              "things": things, "place": place, "places": places}
    if mixed % 10 < 3:
        words = TEMPLATES[(mixed >> 5) % len(TEMPLATES)].format(name=who.split(",")[0]).split()
    else:
        words = f"{who} is planning {things} for a community event.".split()
    target = 46 + (mixed >> 12) % 35
    question = QUESTIONS[(mixed >> 20) % len(QUESTIONS)].format(**values).split()
    for i in range(len(SENTENCES)):
        sentence = SENTENCES[((mixed >> 3) + 7 * i) % len(SENTENCES)].format(**values)
        sentence = (sentence[0].upper() + sentence[1:] + ".").split()
        if len(words) + len(sentence) + len(question) <= target:
            words += sentence
    return " ".join(words + question)


def full_record(k: int, output: str) -> dict:
    words = len(output.split())
    prompt_tokens = 180 + k % 60
    completion_tokens = words * 4 // 3
    attempts = 3 if k % 211 == 0 else 2 if k % 23 == 0 else 1
    return {"custom_id": f"pg-{k:032x}", "persona": persona(k), "task": "math",
            "method": "persona-few-shot", "model": "bench", "output": output, "parsed": None,
            "finish_reason": "length" if k % 97 == 0 else "stop",
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
            "attempts": attempts, "synthetic": True}


def records(count: int, full: bool):
    previous = ""
    for k in range(1, count + 1):
        who = persona(k)
        if not full:
            yield json.dumps({"custom_id": f"pg-{k:032x}", "persona": who,
                              "output": problem(k, who)})
        else:
            # Every 20th record: the one before it, its last word changed.
            output = (previous.rsplit(" ", 1)[0] + f" again{k}" if k % 20 == 0 and previous
                      else full_output(k, who))
            previous = output
            yield json.dumps(full_record(k, output))


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--full"]
    full = len(args) != len(sys.argv) - 1
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    count, path = int(args[0]), args[1]
    if count > COMBINATIONS:
        print(f"gen_records: at most {COMBINATIONS} distinct records", file=sys.stderr)
        return 2
    write_lines(path, records(count, full))
    return 0


if __name__ == "__main__":
    sys.exit(main())
