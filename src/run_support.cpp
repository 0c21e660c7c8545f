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
#include <vector>

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

std::string_view summary_status(ExitCode code) {
  switch (code) {
    case ExitCode::ok:
      return "ok";
    case ExitCode::some_failed:
      return "some_failed";
    case ExitCode::aborted:
      return "aborted";
    case ExitCode::interrupted:
      return "interrupted";
    case ExitCode::error:
    case ExitCode::usage:
      break;
  }
  return "error";
}

namespace {

void add(std::optional<Totals>& total, const std::optional<Totals>& part) {
  if (part) (total ? *total : total.emplace()) += *part;
}

RunSummary summary_of(const RunOutcome& run) {
  RunSummary s;
  s.status = summary_status(run.code);
  s.exit_code = static_cast<int>(run.code);
  s.message = run.message;
  s.output = run.output;
  s.totals = run.totals ? &*run.totals : nullptr;
  s.this_run = run.this_run ? &*run.this_run : nullptr;
  s.shards = run.shards;
  return s;
}

// The key is read again rather than passed around: the fewer places hold it, the better. A key
// that cannot be read cannot be in any message either, so that is not an error here.
std::string api_key_to_mask(const Options& options) {
  try {
    return read_api_key(options);
  } catch (const Error&) {
    return {};
  }
}

}  // namespace

std::string without_api_key(std::string_view text, const Options& options) {
  return redacted(text, api_key_to_mask(options));
}

void write_summary(const Options& options, ExitCode code, std::string_view message,
                   std::span<const RunOutcome> runs, bool expansion) {
  if (options.summary_file.empty()) return;
  const std::string key = api_key_to_mask(options);
  RunSummary summary;
  std::optional<Totals> totals, this_run;
  std::vector<RunSummary> hops;
  if (!expansion && !runs.empty()) {
    summary = summary_of(runs.front());
  } else {
    summary.output = options.output;
    for (size_t i = 0; i < runs.size(); ++i) {
      const RunOutcome& run = runs[i];
      hops.push_back(summary_of(run));
      summary.shards += run.shards;
      add(totals, run.totals);
      add(this_run, run.this_run);
      if (run.code != ExitCode::ok && summary.failed_hop == 0)
        summary.failed_hop = static_cast<int>(i + 1);
    }
    summary.totals = totals ? &*totals : nullptr;
    summary.this_run = this_run ? &*this_run : nullptr;
    summary.hops = hops;
  }
  summary.status = summary_status(code);
  summary.exit_code = static_cast<int>(code);
  summary.message = message;
  summary.secret = key;
  write_file_atomic(options.summary_file, format_summary_json(summary));
}

}  // namespace personagen
