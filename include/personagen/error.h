#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace personagen {

// Exit codes are part of the command-line contract; README.md documents them.
enum class ExitCode : int {
  ok = 0,            // all done
  error = 1,         // the run could not go on: auth refused, I/O error, corrupt input
  usage = 2,         // usage or configuration error, nothing was started
  some_failed = 3,   // done, but some records failed (see failures.jsonl)
  aborted = 4,       // stopped early by --max-failures or --max-rejects (resumable)
  interrupted = 130  // SIGINT/SIGTERM: checkpointed, a rerun resumes
};

// The project's one exception type, for configuration, start-up and fatal run errors.
// A failed record is never an exception: it is a value (see FailureKind).
// main() prints what() as one line and exits with code().
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ExitCode code = ExitCode::error)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// `text` with every occurrence of `secret` replaced by "***" (nothing replaced when it is empty):
// for text that came from a server, which may quote the API key it was given.
inline std::string redacted(std::string_view text, std::string_view secret) {
  if (secret.empty()) return std::string(text);
  std::string out;
  size_t from = 0;
  for (size_t at = text.find(secret); at != std::string_view::npos; at = text.find(secret, from)) {
    out.append(text.substr(from, at - from)).append("***");
    from = at + secret.size();
  }
  return out.append(text.substr(from));
}

// Shorthand for a usage/configuration error (exit code 2).
inline Error usage_error(const std::string& message) {
  return Error(message, ExitCode::usage);
}

}  // namespace personagen
