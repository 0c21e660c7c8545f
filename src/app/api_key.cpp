#include "app/api_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "util/text_util.h"

namespace personagen {

namespace {

// Larger than any key: a file this big was given as the key file by mistake.
constexpr size_t kMaxKeyFileBytes = 64 * 1024;

// The contents of the --api-key-file. Its errors name the flag, never the path: the path may be
// the key itself (--api-key-file "$OPENAI_API_KEY"), and whoever typed the path knows it, so
// hiding it costs nothing. Nor do they quote the contents. Throws a usage Error.
std::string read_key_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw usage_error(std::string("--api-key-file: cannot read the file: ") + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    ::close(fd);
    throw usage_error("--api-key-file: that is a directory, not a file holding the key");
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      throw usage_error(std::string("--api-key-file: cannot read the file: ") +
                        std::strerror(saved));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxKeyFileBytes) {
      ::close(fd);
      throw usage_error(
          "--api-key-file: the file is larger than 64 KiB; it must hold only the key");
    }
  }
  ::close(fd);
  return text;
}

}  // namespace

std::string read_api_key(const Options& options) {
  const bool from_file = !options.api_key_file.empty();
  std::string key;
  if (from_file) {
    key = read_key_file(options.api_key_file);
  } else if (const char* env = std::getenv("OPENAI_API_KEY")) {
    key = env;
  }
  key = std::string(trim(key, kSpaceTabNewline));
  // An empty file is a mistake: without a key every request would come back 401. An empty
  // $OPENAI_API_KEY is a choice: local servers often need no key.
  if (from_file && key.empty()) throw usage_error("--api-key-file: the file is empty");
  // The key goes into an HTTP header: a line break inside it would end the header and start
  // another (header injection), and a space or a control character is never part of a key.
  for (unsigned char c : key) {
    if (c <= ' ' || c >= 0x7f)
      throw usage_error(std::string(from_file ? "--api-key-file" : "$OPENAI_API_KEY") +
                        ": the API key must be one line of printable ASCII characters without "
                        "spaces; this one holds a line break, a space or another control or "
                        "non-ASCII character (the key is not shown)");
  }
  return key;
}

namespace {

// A key shorter than this is not looked for in personagen's own messages: "x" or "EMPTY", which
// local servers accept, would otherwise turn words like --extra-body into --e***tra-body, and a
// key that short protects nothing. Text from outside (server replies) is masked whatever the
// length, in the transport.
constexpr size_t kMinKeyBytesToMaskInMessages = 8;

}  // namespace

// The key is read again rather than passed around: the fewer places hold it, the better. A key
// that cannot be read cannot be in any message either, so that is not an error here.
std::string api_key_to_mask(const Options& options) {
  try {
    std::string key = read_api_key(options);
    return key.size() < kMinKeyBytesToMaskInMessages ? std::string() : key;
  } catch (const Error&) {
    return {};
  }
}

std::string without_api_key(std::string_view text, const Options& options) {
  return redacted(text, api_key_to_mask(options));
}

namespace {

// Whether `c` may stand next to a whole value quoted in a parse error: the messages join values
// with spaces and commas, and put them after "=", ":" or in quotes or brackets.
bool is_value_boundary(char c) {
  return std::string_view(" \t\n,=:;\"'()[]{}").find(c) != std::string_view::npos;
}

// Whether `text` is a number: a number cannot be a key worth hiding, and hiding one would
// garble messages that state a range ("expected a number above (not shown)").
bool is_number(std::string_view text) {
  return text.find_first_not_of("0123456789+-.eE") == std::string_view::npos &&
         text.find_first_of("0123456789") != std::string_view::npos;
}

// The values given on the command line that may be hidden in a message: arguments that are not
// option names, the part of "--name=value" after "=", the part of "-jVALUE" after the letter,
// and the comma-separated parts of each, since a delimited option is checked part by part.
// Numbers are left out. Longest first.
std::vector<std::string> argument_values(int argc, const char* const* argv) {
  std::vector<std::string> values;
  auto add = [&values](std::string_view value) {
    if (!value.empty() && !is_number(value)) values.emplace_back(value);
  };
  bool only_values = false;  // after "--"
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value = arg;
    if (!only_values && arg == "--") {
      only_values = true;
      continue;
    }
    bool option = !only_values && arg.size() > 1 && arg[0] == '-' && !is_number(arg);
    if (option && arg[1] == '-') {
      size_t equals = arg.find('=');
      value = equals == std::string_view::npos ? std::string_view() : arg.substr(equals + 1);
    } else if (option) {
      value = arg.substr(2);
    }
    add(value);
    if (value.find(',') == std::string_view::npos) continue;
    for (size_t begin = 0;;) {
      size_t end = value.find(',', begin);
      add(value.substr(begin, end == value.npos ? end : end - begin));
      if (end == value.npos) break;
      begin = end + 1;
    }
  }
  std::sort(values.begin(), values.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return values;
}

}  // namespace

std::string without_argument_values(std::string_view message, int argc, const char* const* argv) {
  // Spans of the message to hide, found in the message as given (not in one already masked),
  // longest values first so that a value inside a longer one does not split it.
  std::vector<std::pair<size_t, size_t>> hidden;
  for (const std::string& value : argument_values(argc, argv)) {
    for (size_t at = message.find(value); at != std::string_view::npos;
         at = message.find(value, at + 1)) {
      size_t end = at + value.size();
      bool whole = (at == 0 || is_value_boundary(message[at - 1])) &&
                   (end == message.size() || is_value_boundary(message[end]));
      bool overlaps = std::any_of(hidden.begin(), hidden.end(), [&](const auto& span) {
        return at < span.second && span.first < end;
      });
      if (whole && !overlaps) hidden.emplace_back(at, end);
    }
  }
  std::sort(hidden.begin(), hidden.end());
  std::string out;
  size_t copied = 0;
  for (const auto& [begin, end] : hidden) {
    out.append(message.substr(copied, begin - copied)).append("(not shown)");
    copied = end;
  }
  return out.append(message.substr(copied));
}

}  // namespace personagen
