#pragma once

// Helpers shared by the unit tests (the end-to-end tests have e2e_support.h).

#include <string>

#include "personagen/error.h"

namespace personagen {

// Runs `body` and returns the message of the Error it throws ("" if none), and its exit code in
// `*code` when asked.
template <typename Body>
std::string error_of(Body body, ExitCode* code = nullptr) {
  try {
    body();
  } catch (const Error& error) {
    if (code != nullptr) *code = error.code();
    return error.what();
  }
  return "";
}

}  // namespace personagen
