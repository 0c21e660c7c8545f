#include <cstdio>
#include <exception>

#include "personagen/commands.h"

int main(int argc, char** argv) {
  try {
    return personagen::run(argc, argv);
  } catch (const personagen::Error& e) {
    std::fprintf(stderr, "personagen: error: %s\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "personagen: internal error: %s\n", e.what());
    return static_cast<int>(personagen::ExitCode::error);
  }
}
