#include "run_support.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "personagen/output_record.h"

namespace personagen {

namespace {

std::atomic<int> g_signal_level{0};
static_assert(std::atomic<int>::is_always_lock_free,
              "the signal handler needs a lock-free counter");

extern "C" void count_signal(int) {
  g_signal_level.fetch_add(1);
}

struct sigaction g_old_int, g_old_term;

}  // namespace

SignalGuard::SignalGuard() {
  g_signal_level = 0;
  struct sigaction action {};
  action.sa_handler = count_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_old_int);
  sigaction(SIGTERM, &action, &g_old_term);
}

SignalGuard::~SignalGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

const std::atomic<int>& SignalGuard::level() const {
  return g_signal_level;
}

bool is_smart_terminal(FILE* out) {
  const char* term = std::getenv("TERM");
  return ::isatty(::fileno(out)) && !(term && std::strcmp(term, "dumb") == 0);
}

std::string read_api_key(const Options& options) {
  std::string key;
  if (!options.api_key_file.empty()) {
    std::ifstream in(options.api_key_file);
    if (!in) throw usage_error(options.api_key_file + ": cannot read the API key file");
    std::ostringstream text;
    text << in.rdbuf();
    key = text.str();
  } else if (const char* env = std::getenv("OPENAI_API_KEY")) {
    key = env;
  }
  auto first = key.find_first_not_of(" \t\r\n");
  auto last = key.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string() : key.substr(first, last - first + 1);
}

void ensure_file_limit(size_t connections) {
  // Each connection is a socket; leave room for the input, the shards and libcurl's own.
  rlim_t needed = static_cast<rlim_t>(connections) + 128;
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
  rlim_t wanted = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
  limit.rlim_cur = wanted;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0 || wanted < needed)
    spdlog::warn(
        "the open-file limit ({}) is below the {} that -j {} needs; raise it with ulimit -n",
        wanted, needed, connections);
}

void write_file_atomic(const std::string& path, std::string_view content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(tmp + ": cannot create: " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      throw Error(tmp + ": write failed: " + std::strerror(saved));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int saved = errno;
    ::close(fd);
    throw Error(tmp + ": cannot sync: " + std::strerror(saved));
  }
  if (::close(fd) != 0) throw Error(tmp + ": close failed: " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw Error(path + ": cannot rename into place: " + std::strerror(errno));
  std::string dir = std::filesystem::path(path).parent_path().string();
  sync_dir(dir.empty() ? "." : dir);
}

void sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(dir + ": cannot open directory: " + std::strerror(errno));
  if (::fsync(fd) != 0) {
    int saved = errno;
    ::close(fd);
    throw Error(dir + ": fsync failed: " + std::strerror(saved));
  }
  ::close(fd);
}

void write_summary(const Options& options, std::string_view status, ExitCode code,
                   std::string_view message, const Totals* totals, const Totals* this_run,
                   size_t shards) {
  if (options.summary_file.empty()) return;
  RunSummary summary;
  summary.status = status;
  summary.exit_code = static_cast<int>(code);
  summary.message = message;
  summary.output = options.output;
  summary.totals = totals;
  summary.this_run = this_run;
  summary.shards = shards;
  write_file_atomic(options.summary_file, format_summary_json(summary));
}

}  // namespace personagen
