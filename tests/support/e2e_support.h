#pragma once

// Helpers for tests that run the real personagen binary as a subprocess against the local test
// server: spawning and reaping it, reading its output directory, and the exactly-once checks.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_server.h"

extern char** environ;

namespace personagen::e2e {

namespace fs = std::filesystem;
using nlohmann::json;

// The generation tasks, as `personagen tasks` lists them.
inline constexpr const char* kBuiltinTasks[] = {"math",      "reasoning", "instruction",
                                                "knowledge", "npc",       "tool"};

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Parses `text` as JSONL into `out`. Returns an error naming the first line that does not parse
// or that lacks its newline (a torn line), or nullopt when every line is whole JSON.
inline std::optional<std::string> parse_jsonl(std::string_view text, std::vector<json>& out) {
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t end = text.find('\n');
    if (end == std::string_view::npos)
      return "line " + std::to_string(line_no) +
             " has no newline (torn): " + std::string(text.substr(0, 80));
    json value = json::parse(text.substr(0, end), nullptr, false);
    if (value.is_discarded())
      return "line " + std::to_string(line_no) +
             " is not JSON: " + std::string(text.substr(0, std::min<size_t>(end, 80)));
    out.push_back(std::move(value));
    text.remove_prefix(end + 1);
  }
  return std::nullopt;
}

// Every line of `text` as JSON; throws on a torn line, so a test that uses it fails loudly.
inline std::vector<json> read_jsonl(const std::string& text) {
  std::vector<json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(json::parse(line));
  return lines;
}

// A whole JSON file.
inline json read_json(const fs::path& path) {
  return json::parse(read_file(path));
}

// `n` texts for text-to-persona, {"id": "text-<i>", "text": ...}, written to `path`.
inline fs::path write_texts(const fs::path& path, int n) {
  std::ofstream out(path);
  for (int i = 0; i < n; ++i)
    out << json{{"id", "text-" + std::to_string(i)},
                {"text", "Post number " + std::to_string(i) + ": how to fix a bike chain."}}
               .dump()
        << "\n";
  return path;
}

// The shard files `<task>-NNNNN.jsonl` in `dir`, in shard order (.tmp files excluded).
inline std::vector<fs::path> shard_files(const fs::path& dir, const std::string& task) {
  std::vector<fs::path> shards;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename();
    if (name.rfind(task + "-", 0) == 0 && name.ends_with(".jsonl")) shards.push_back(entry.path());
  }
  std::sort(shards.begin(), shards.end());
  return shards;
}

// Every record of every shard in `dir` for `task`, in shard order.
inline std::vector<json> read_shards(const fs::path& dir, const std::string& task) {
  std::vector<json> records;
  for (const auto& shard : shard_files(dir, task))
    for (auto& record : read_jsonl(read_file(shard))) records.push_back(std::move(record));
  return records;
}

// The persona a record or failure line is about, in any output format that carries it.
inline std::string persona_of(const json& line) {
  for (const char* key : {"persona", "input persona"})
    if (line.contains(key) && line[key].is_string()) return line[key].get<std::string>();
  return "<no persona in " + line.dump().substr(0, 80) + ">";
}

// The records of `dir` keyed by persona -> attempts (a persona seen twice keeps the last).
inline std::map<std::string, int> attempts_by_persona(const std::vector<json>& lines) {
  std::map<std::string, int> attempts;
  for (const json& line : lines) attempts[persona_of(line)] = line.value("attempts", -1);
  return attempts;
}

// A few elements of a multiset difference, for failure messages.
inline std::string sample(const std::multiset<std::string>& items, size_t limit = 5) {
  std::string out;
  size_t shown = 0;
  for (const auto& item : items) {
    if (shown++ == limit) return out + " ...";
    out += (out.empty() ? "" : ", ") + ("\"" + item.substr(0, 60) + "\"");
  }
  return out;
}

// The exactly-once contract of a completed run in `dir`: every shard line and every
// failures.jsonl line is whole JSON, no .tmp file is left, and the personas over shards and
// failures are exactly `expected` as a multiset (nothing lost, nothing twice).
inline ::testing::AssertionResult check_exactly_once(const fs::path& dir, const std::string& task,
                                                     const std::vector<std::string>& expected) {
  std::multiset<std::string> seen;
  size_t shards = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename();
    if (name.ends_with(".tmp"))
      return ::testing::AssertionFailure() << name << " is left over after a completed run";
    bool shard = name.rfind(task + "-", 0) == 0 && name.ends_with(".jsonl");
    if (!shard && name != "failures.jsonl") continue;
    shards += shard;
    std::vector<json> lines;
    if (auto error = parse_jsonl(read_file(entry.path()), lines))
      return ::testing::AssertionFailure() << name << ": " << *error;
    for (const json& line : lines) seen.insert(persona_of(line));
  }
  std::multiset<std::string> want(expected.begin(), expected.end());
  if (seen == want) return ::testing::AssertionSuccess();
  std::multiset<std::string> missing, extra;
  std::set_difference(want.begin(), want.end(), seen.begin(), seen.end(),
                      std::inserter(missing, missing.end()));
  std::set_difference(seen.begin(), seen.end(), want.begin(), want.end(),
                      std::inserter(extra, extra.end()));
  return ::testing::AssertionFailure()
         << dir << ": " << seen.size() << " personas in " << shards
         << " shards + failures.jsonl, expected " << want.size() << "; " << missing.size()
         << " missing (" << sample(missing) << "), " << extra.size() << " extra or duplicated ("
         << sample(extra) << ")";
}

// What must hold of an output directory at ANY moment, even right after kill -9: manifest.json,
// if present, is whole JSON; a shard under its final name is complete (whole lines only); and a
// .tmp shard, failures.jsonl, rejects.jsonl and unverified.jsonl are whole JSON lines up to the
// length the manifest's checkpoint recorded for them (bytes past it are allowed: a resume truncates
// them).
inline ::testing::AssertionResult check_checkpoint_prefixes(const fs::path& dir,
                                                            const std::string& task) {
  if (!fs::exists(dir)) return ::testing::AssertionSuccess();  // killed before it was made
  std::map<std::string, uint64_t> checkpointed;                // file name -> recorded length
  if (fs::exists(dir / "manifest.json")) {
    json manifest = json::parse(read_file(dir / "manifest.json"), nullptr, false);
    if (manifest.is_discarded())
      return ::testing::AssertionFailure() << "manifest.json is not whole JSON";
    try {
      for (const json& shard : manifest.at("shards"))
        checkpointed[shard.at("name").get<std::string>() +
                     (shard.at("open").get<bool>() ? ".tmp" : "")] = shard.at("bytes");
      checkpointed["failures.jsonl"] = manifest.at("failures").at("bytes");
      checkpointed["rejects.jsonl"] = manifest.at("rejects").at("bytes");
      if (manifest.contains("unverified"))
        checkpointed["unverified.jsonl"] = manifest.at("unverified").at("bytes");
    } catch (const json::exception& e) {
      return ::testing::AssertionFailure() << "manifest.json: " << e.what();
    }
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename();
    bool final_shard = name.rfind(task + "-", 0) == 0 && name.ends_with(".jsonl");
    bool partial = (name.rfind(task + "-", 0) == 0 && name.ends_with(".jsonl.tmp")) ||
                   name == "failures.jsonl" || name == "rejects.jsonl" ||
                   name == "unverified.jsonl";
    if (!final_shard && !partial) continue;
    std::string text = read_file(entry.path());
    if (partial) {
      auto it = checkpointed.find(name);
      uint64_t length = it == checkpointed.end() ? 0 : it->second;
      if (text.size() < length)
        return ::testing::AssertionFailure()
               << name << " has " << text.size() << " bytes, less than the checkpointed " << length;
      text.resize(length);
    }
    std::vector<json> lines;
    if (auto error = parse_jsonl(text, lines))
      return ::testing::AssertionFailure()
             << name << (partial ? " (checkpointed part)" : "") << ": " << *error;
  }
  return ::testing::AssertionSuccess();
}

// What a crashed or sanitizer-stopped process leaves on stderr; none of it may appear.
inline ::testing::AssertionResult no_crash_output(const std::string& err) {
  for (const char* sign : {"AddressSanitizer", "UndefinedBehaviorSanitizer", "LeakSanitizer",
                           "runtime error:", "internal error", "terminate called",
                           "Segmentation fault", "Aborted", "std::bad_alloc"}) {
    if (err.find(sign) != std::string::npos)
      return ::testing::AssertionFailure() << "stderr shows \"" << sign << "\":\n" << err;
  }
  return ::testing::AssertionSuccess();
}

// Polls `holds` (every `poll`) until it is true or `timeout` has passed; returns whether it
// held. Tests wait on conditions with this, never with a bare sleep.
template <class Predicate>
bool wait_until(Predicate&& holds, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(1)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!holds()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// `n` distinct, ordinary personas.
inline std::vector<std::string> personas(int n, const std::string& prefix = "persona") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back("A " + prefix + " number " + std::to_string(i) + " who likes tea");
  return out;
}

struct Result {
  int exit_code = -1;  // 128 + the signal when it was killed by one
  std::string out;
  std::string err;
};

// A temporary directory per test, removed at the end, and the binary run inside it. The
// binary's stdout and stderr go to files in the directory, so a run may print any amount.
class E2E : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/personagen-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  // A test that failed half-way may leave a child running: it must not outlive the test.
  void TearDown() override {
    for (const auto& [pid, log] : children_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  fs::path write_personas(const std::string& name, const std::vector<std::string>& personas) {
    fs::path path = dir_ / name;
    std::ofstream out(path);
    for (const auto& p : personas) out << json{{"persona", p}}.dump() << "\n";
    return path;
  }

  // Starts the binary with `args` and the test endpoint in its environment; returns its pid.
  // Its stdout and stderr go to `<log>.stdout` and `<log>.stderr` in the test's directory, so
  // children that run at the same time need different `log` names.
  // Everything the child needs is prepared before fork(), since the test server's threads make
  // anything but async-signal-safe calls unsafe in the child.
  pid_t spawn(const std::vector<std::string>& args, const std::string& base_url,
              const std::map<std::string, std::string>& env = {}, const std::string& log = "run") {
    std::map<std::string, std::string> vars{{"OPENAI_BASE_URL", base_url},
                                            {"OPENAI_MODEL", "test-model"}};
    for (const auto& [k, v] : env) vars[k] = v;
    std::vector<std::string> env_text;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      std::string name(entry.substr(0, entry.find('=')));
      if (name != "OPENAI_API_KEY" && !vars.contains(name)) env_text.emplace_back(entry);
    }
    for (const auto& [k, v] : vars) env_text.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> arg_text = launcher_;
    arg_text.push_back(PERSONAGEN_BINARY);
    arg_text.insert(arg_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : arg_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string out_path = dir_ / (log + ".stdout"), err_path = dir_ / (log + ".stderr");

    pid_t pid = fork();
    if (pid == 0) {
      int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
      close_range(3, ~0U, 0);  // no server sockets leak into the child
      // A file-size limit (a launcher's) then fails writes with EFBIG, as a full disk does with
      // ENOSPC, instead of killing the process.
      signal(SIGXFSZ, SIG_IGN);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    if (pid > 0) children_[pid] = log;
    return pid;
  }

  // Runs `args` against a test server that answers after `delay_ms`, sends SIGTERM once the
  // server has seen `requests` chat requests (waiting at most 30 s), and returns the result.
  Result interrupted_run(const std::vector<std::string>& args, size_t requests, int delay_ms) {
    testing::ServerOptions slow;
    slow.delay_ms = delay_ms;
    testing::TestServer server(slow);
    pid_t pid = spawn(args, server.base_url());
    EXPECT_TRUE(server.wait_for_chat_requests(requests, std::chrono::seconds(30)));
    kill(pid, SIGTERM);
    return wait(pid);
  }

  // The result of a reaped child.
  Result collect(pid_t pid, int status) {
    Result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    auto child = children_.find(pid);
    if (child == children_.end()) return r;
    r.out = read_file(dir_ / (child->second + ".stdout"));
    r.err = read_file(dir_ / (child->second + ".stderr"));
    children_.erase(child);
    return r;
  }

  Result wait(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return collect(pid, status);
  }

  // The result if `pid` has exited (reaping it), nullopt while it runs.
  std::optional<Result> try_wait(pid_t pid) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
    return collect(pid, status);
  }

  // The result once `pid` has exited, or nullopt if it still runs after `timeout`.
  std::optional<Result> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
    std::optional<Result> result;
    wait_until([&] { return (result = try_wait(pid)).has_value(); }, timeout);
    return result;
  }

  Result run(const std::vector<std::string>& args, const std::string& base_url,
             const std::map<std::string, std::string>& env = {}) {
    return wait(spawn(args, base_url, env));
  }

  fs::path dir_;
  std::map<pid_t, std::string> children_;  // spawned and not yet reaped -> log name
  // A command that runs the binary, e.g. {"/usr/bin/prlimit", "--fsize=30000"}; empty: none.
  std::vector<std::string> launcher_;
};

}  // namespace personagen::e2e
