#pragma once

#include <cstdio>
#include <string_view>

namespace personagen {

// True when `out` is a terminal that can redraw a line (not TERM=dumb).
bool is_smart_terminal(FILE* out);

// Writes `text` to stdout and flushes it; throws Error("stdout: write failed") if either fails
// (a full disk behind a redirection, a closed pipe).
void write_stdout(std::string_view text);

}  // namespace personagen
