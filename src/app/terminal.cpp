#include "app/terminal.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "personagen/error.h"

namespace personagen {

bool is_smart_terminal(FILE* out) {
  const char* term = std::getenv("TERM");
  return ::isatty(::fileno(out)) && !(term && std::strcmp(term, "dumb") == 0);
}

void write_stdout(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
    throw Error("stdout: write failed");
}

}  // namespace personagen
