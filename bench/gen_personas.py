#!/usr/bin/env python3
"""Writes N synthetic personas as JSONL, the same N lines on every run.

Usage: bench/gen_personas.py N FILE

Each line is {"id": "bench-0000001", "persona": "..."} with a persona of 48 to 162 bytes (103
on average), built from fixed word lists. Line k picks its words from k alone (a bijective
scramble of k read in mixed radix), so personas are distinct up to 4,032,000 lines, the same on
every run, and a smaller file is a prefix of a larger one. Past that, line k is line
k - 4,032,000 with a phrase added (", born in spring", then summer, autumn, winter), which keeps
it distinct from every earlier line at dedup's threshold of 0.9: up to 16,128,000 lines.
"""

import json
import os
import sys

NAMES = ["Maria", "Kwame", "Aiko", "Lars", "Priya", "Tomasz", "Fatima", "Diego", "Mei", "Owen"]
AGES = ["", "young", "retired", "mid-career", "elderly", "34-year-old", "teenage", "self-taught",
        "semi-retired", "newly qualified"]
ROLES = ["marine biologist", "night-shift nurse", "game designer", "bus driver", "tax accountant",
         "beekeeper", "civil engineer", "high-school chemistry teacher", "librarian", "pastry chef",
         "paramedic", "urban planner", "violin maker", "data journalist", "wind-farm technician",
         "immigration lawyer", "organic farmer", "museum curator", "air-traffic controller",
         "speech therapist", "carpenter", "hospice chaplain", "robotics student", "midwife"]
PLACES = ["in Lisbon", "in rural Saskatchewan", "in Manila", "from Nairobi", "in a small Alpine town",
          "in Osaka", "on the Scottish coast", "in Sao Paulo", "in Detroit", "near Krakow",
          "in Auckland", "in a Bavarian village", "in Chennai", "in Reykjavik", "in Tucson"]
ACTS = ["who volunteers at the city aquarium on weekends", "who restores old radios",
        "who coaches a youth chess club", "who writes a blog about sourdough",
        "who is training for a first marathon", "who keeps a detailed budget spreadsheet",
        "who teaches evening classes in statistics", "who photographs migrating birds",
        "who is learning to code in Python", "who organises community repair cafes",
        "who plays bass in a jazz trio", "who grows chillies on a balcony",
        "who tracks the stock market every morning", "who maps hiking trails for a charity"]
EXTRAS = ["", " and cares deeply about accessibility", " and loves puzzles", " and has two dogs",
          " and distrusts statistics", " and speaks four languages", " and hates waste",
          " and never misses a deadline"]
LISTS = [NAMES, AGES, ROLES, PLACES, ACTS, EXTRAS]
COMBINATIONS = 1
for words in LISTS:
    COMBINATIONS *= len(words)
CYCLES = ["", ", born in spring", ", born in summer", ", born in autumn", ", born in winter"]
# Knuth's multiplicative-hash prime: it does not divide COMBINATIONS, so k -> k * SCRAMBLE mod
# COMBINATIONS is a bijection, and neighbouring lines differ in every word.
SCRAMBLE = 2654435761


def persona(k: int) -> str:
    cycle, k = divmod(k - 1, COMBINATIONS)
    return base_persona(k + 1) + CYCLES[cycle]


def base_persona(k: int) -> str:
    index = k * SCRAMBLE % COMBINATIONS
    picks = []
    for words in LISTS:
        index, digit = divmod(index, len(words))
        picks.append(words[digit])
    name, age, role, place, act, extra = picks
    described = f"{age} {role}" if age else role
    article = "an" if described[0] in "aeiou" else "a"
    return f"{name}, {article} {described} {place} {act}{extra}"


def write_lines(path: str, lines) -> None:
    """Writes the lines to path.tmp in blocks of 10,000, then renames it to path."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        block = []
        for line in lines:
            block.append(line)
            if len(block) == 10000:
                out.write("\n".join(block) + "\n")
                block.clear()
        if block:
            out.write("\n".join(block) + "\n")
    os.replace(tmp, path)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    count, path = int(sys.argv[1]), sys.argv[2]
    if count > COMBINATIONS * (len(CYCLES) - 1):
        print(f"gen_personas: at most {COMBINATIONS * (len(CYCLES) - 1)} distinct personas",
              file=sys.stderr)
        return 2
    write_lines(path, (json.dumps({"id": f"bench-{k:07d}", "persona": persona(k)})
                       for k in range(1, count + 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
