#include "app/terminal.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace personagen {

bool is_smart_terminal(FILE* out) {
  const char* term = std::getenv("TERM");
  return ::isatty(::fileno(out)) && !(term && std::strcmp(term, "dumb") == 0);
}

}  // namespace personagen
