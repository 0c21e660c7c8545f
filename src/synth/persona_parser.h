#pragma once

#include <string_view>

#include "synth/tasks.h"

namespace personagen {

// The longest persona accepted, in words: the prompts ask for one or two sentences (at most 60
// words for persona-to-persona); twice that leaves room for a wordy model, not for an essay.
constexpr size_t kMaxPersonaWords = 120;

// Checks a text-to-persona reply: one persona description. Quotes, a "Persona:" label and
// markdown emphasis around it are removed. Empty, a refusal, a list, or longer than
// kMaxPersonaWords is not a usable persona. `parsed` is the cleaned persona as a JSON string.
ParsedOutput parse_persona(std::string_view content);

// Checks a persona-to-persona reply: a JSON array (possibly in a ``` fence) of persona strings,
// or the object {"personas": [...]} that the structured-output schema asks for; each persona is
// checked as above, and duplicates are dropped. `parsed` is the cleaned array.
ParsedOutput parse_persona_list(std::string_view content);

}  // namespace personagen
