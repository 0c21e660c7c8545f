// Feeds arbitrary bytes, as a --config file, to the TOML reader. It may refuse the text, but only
// with personagen's usage Error: one line that names the file and the line, and never the
// text itself (a value may be an API key pasted in the wrong place). What it accepts are
// entries on a line of the file, with one value unless they are an array. (A quoted key may be
// empty, as TOML allows; the flags' side refuses it as an unknown key.)

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "app/config_toml.h"
#include "fuzz_check.h"
#include "personagen/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace personagen;
  using namespace personagen::fuzz;
  const std::string text(reinterpret_cast<const char*>(data), size);
  size_t lines = 1;
  for (char c : text) lines += c == '\n';
  try {
    const std::vector<ConfigEntry> entries = parse_config_text(text, "fuzz.toml");
    for (const ConfigEntry& entry : entries) {
      FUZZ_CHECK(entry.line >= 1 && entry.line <= lines);
      FUZZ_CHECK(entry.is_array || entry.values.size() == 1);
    }
  } catch (const Error& e) {
    const std::string message = e.what();
    FUZZ_CHECK(message.rfind("fuzz.toml", 0) == 0);
    FUZZ_CHECK(is_one_line(message));
    FUZZ_CHECK(e.code() == ExitCode::usage);
  }
  return 0;
}
