#pragma once

#include <cstdio>

namespace personagen {

// True when `out` is a terminal that can redraw a line (not TERM=dumb).
bool is_smart_terminal(FILE* out);

}  // namespace personagen
