#pragma once

// The judge's reply: its JSON schema and the parser that checks it. The reply is
//   {"scores": {"validity": 1-10, "persona_fit": 1-10, "quality": 1-10}, "reason": "..."}
// and a record's overall score is the mean of the three, rounded to 2 decimals. Apart from the
// rubrics (judge.h) so that parse_output needs nothing of the templates.

#include <string_view>

#include "synth/tasks.h"

namespace personagen {

// The JSON schema of the judge's reply, as compact JSON text: every property required, no
// additional properties, scores integers from 1 to 10, the reason at most 300 characters.
std::string_view judge_schema();

// The mean of three scores, rounded to 2 decimals (5, 6, 6 -> 5.67).
double overall_score(int validity, int persona_fit, int quality);

// Checks a judge reply: the first JSON object in it (as the npc and tool parsers find it: the
// whole reply, a ``` fence, or prose around it) must hold "scores" with the three criteria, each
// an integer (or a number without a fraction) from 1 to 10, and a non-empty string "reason";
// other members are ignored. `parsed` is the compact
// {"scores":{"validity":v,"persona_fit":p,"quality":q},"overall":x,"reason":"..."}.
// Anything else is a failure with a one-line reason. Never throws but bad_alloc.
ParsedOutput parse_judgment(std::string_view content);

// The "overall" of a `parsed` that parse_judgment wrote.
double judged_overall(std::string_view parsed);

}  // namespace personagen
