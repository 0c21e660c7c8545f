#pragma once

#include <cstddef>
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

namespace detail {

// The length of the text at the start of `text` that spells `secret`, or 0. Each character of
// the secret may be written as is or JSON-escaped: as \uXXXX (any case of hex digits), and '/',
// '"' and '\\' also as \/, \" and \\. Non-ASCII bytes match only as is.
inline size_t secret_length_at(std::string_view text, std::string_view secret) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  size_t at = 0;
  for (char c : secret) {
    if (at + 1 < text.size() && text[at] == '\\') {
      char next = text[at + 1];
      if (next == c && (c == '/' || c == '"' || c == '\\')) {
        at += 2;
        continue;
      }
      if (next == 'u' && at + 6 <= text.size()) {
        int code = 0;
        for (size_t i = at + 2; i < at + 6 && code >= 0; ++i)
          code = hex(text[i]) < 0 ? -1 : code * 16 + hex(text[i]);
        if (code == static_cast<unsigned char>(c) && code < 0x80) {
          at += 6;
          continue;
        }
      }
    }
    if (at < text.size() && text[at] == c) {
      ++at;
      continue;
    }
    return 0;
  }
  return at;
}

}  // namespace detail

// Replaces every occurrence of `secret` in `text` with "***", whether written as is or
// JSON-escaped (see detail::secret_length_at): a server's error body may quote the API key it
// was given, and a JSON encoder may escape any of its characters. Leaves `text` untouched, and
// copies nothing, when the secret is empty or absent. For text from outside (server replies,
// file contents), where even a short secret is masked.
inline void redact(std::string& text, std::string_view secret) {
  if (secret.empty()) return;
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < text.size();) {
    size_t length = text[i] == secret.front() || text[i] == '\\'
                        ? detail::secret_length_at(std::string_view(text).substr(i), secret)
                        : 0;
    if (length == 0) {
      ++i;
      continue;
    }
    out.append(text, copied, i - copied).append("***");
    i += length;
    copied = i;
  }
  if (copied == 0) return;
  text = out.append(text, copied, std::string::npos);
}

// `text` with every occurrence of `secret` masked, as redact() does.
inline std::string redacted(std::string_view text, std::string_view secret) {
  std::string out(text);
  redact(out, secret);
  return out;
}

// Shorthand for a usage/configuration error (exit code 2).
inline Error usage_error(const std::string& message) {
  return Error(message, ExitCode::usage);
}

}  // namespace personagen
