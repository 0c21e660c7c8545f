#pragma once

// The TOML that a config file (--config) needs, read into entries: what config_file.cpp then
// checks against the flags of the command given.

#include <cstddef>
#include <string>
#include <vector>

namespace personagen {

// One `key = value` of a config file, as read: the table it is in ([synth] gives {"synth"}, a
// dotted key adds its parts), its values as text (an array has several; a number keeps its
// digits, underscores and a leading '+' left out; true and false are "true" and "false").
struct ConfigEntry {
  size_t line = 0;
  std::vector<std::string> table;
  std::string key;
  std::vector<std::string> values;
  bool is_array = false;
  bool is_bool = false;  // every value is true or false
};

// Parses the TOML subset a config file needs: comments, [tables] and dotted keys, basic and
// literal strings (multi-line too, with TOML's escapes), integers, floats, booleans and arrays
// of those. Throws a usage Error "FILE:LINE: what was expected" for anything else (dates,
// inline tables, nested arrays, a key given twice), never quoting the text: a value may be a
// key pasted in the wrong place.
std::vector<ConfigEntry> parse_config_text(const std::string& text, const std::string& file);

}  // namespace personagen
