#pragma once

// The test server's default replies to personagen's own task prompts: what a model would write
// for each task, so that the demo and the end-to-end tests show records that look like their
// task rather than one canned object for all of them.

#include <optional>
#include <string>

#include "replies.h"

namespace personagen::testing::detail {

// The reply to a prompt of one of personagen's tasks (prompts/<task>/*.txt, any method),
// recognised by the template's own wording in the last user message:
//   text-to-persona     "Who is likely to"                   one persona of a curious reader
//   persona-to-persona  "close relationship"                 a JSON array of three personas
//   math                "math problem related to the following persona"
//                                                            "Math problem: For <persona>, ..."
//   reasoning           "logical reasoning problem related to the following persona"
//                                                            "Logical reasoning problem: ..."
//   instruction         "Guess a prompt (i.e., instructions)"   "I'm <persona>. Could you ..."
//   knowledge           "Write a Quora article"              a question line, a blank line and
//                                                            two paragraphs as the persona
//   npc                 "Create a non-player character (NPC)"   {name, role, backstory,
//                                                            personality, dialogue}
//   tool                "Design one tool (a function"        {"type":"function","function":...}
// <persona> is the line after the one that introduces it ("... the following persona:"), else
// the text after the prompt's last "Persona: " up to the end of its line. Each reply
// carries 8 hex digits of the prompt's 64-bit FNV-1a hash (those of echo_tool_name(prompt)) and
// picks its numbers and names by that hash, so it tells which request it answers and a rerun
// gets the same text. Under a json_schema response_format the JSON tasks answer only to the
// schema named after their task ("npc", "tool", "persona-to-persona", each reply valid under
// personagen's schema; persona-to-persona then as {"personas": [...]}), and a text task to none:
// otherwise nullopt, so that the schema's instance (schema_replies.h) answers. nullopt for any
// other prompt.
std::optional<std::string> task_reply(const ChatRequest& request);

}  // namespace personagen::testing::detail
