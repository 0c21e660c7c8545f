// The crash test: the real binary killed with SIGKILL at random moments (and interrupted with
// SIGTERM or SIGINT), resumed each time, must end with every persona exactly once and never a
// torn line.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using namespace std::chrono_literals;
using personagen::testing::ServerOptions;
using personagen::testing::TestServer;

constexpr int kPersonas = 8000;

// Whether `sig` is pending for `pid`, not yet taken by its handler (/proc/<pid>/status).
bool signal_pending(pid_t pid, int sig) {
  std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  uint64_t mask = 0;
  while (std::getline(status, line)) {
    if (line.rfind("ShdPnd:", 0) == 0 || line.rfind("SigPnd:", 0) == 0)
      mask |= std::stoull(line.substr(7), nullptr, 16);
  }
  return (mask >> (sig - 1)) & 1;
}

class CrashTest : public E2E {
 protected:
  // The input: kPersonas personas, of which every 50th always gets 404 (so failures.jsonl is
  // written under the kills too), and a line that is not JSON every 150 lines (rejects.jsonl).
  void SetUp() override {
    E2E::SetUp();
    all_ = personas(kPersonas, "crash");
    std::ofstream in(dir_ / "in.jsonl");
    int line = 0;
    for (int i = 0; i < kPersonas; ++i) {
      if (i % 150 == 75) {
        in << "not json, line " << ++line << "\n";
        reject_lines_.push_back(line);
      }
      if (i % 50 == 10) {
        all_[i] += " [[fault:404*always]]";
        ++doomed_;
      }
      in << json{{"persona", all_[i]}}.dump() << "\n";
      ++line;
    }
    input_ = dir_ / "in.jsonl";
    out_ = dir_ / "out";
  }

  std::vector<std::string> args() const {
    std::vector<std::string> a{"synth", "-i", input_, "-t", "math", "-o", out_, "-q"};
    a.insert(a.end(), {"-j", "32", "--shard-size", "100", "--checkpoint-interval", "0.05"});
    a.insert(a.end(), {"--max-retries", "8"});
    return a;
  }

  // The end state of a finished run: exit code 3 for the doomed personas, every persona once in
  // a shard or failures.jsonl, and every bad line once in rejects.jsonl.
  void expect_complete(const Result& r) {
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_TRUE(no_crash_output(r.err));
    EXPECT_TRUE(check_exactly_once(out_, "math", all_));
    std::vector<int> rejected;
    for (const json& reject : read_jsonl(read_file(out_ / "rejects.jsonl")))
      rejected.push_back(reject["line"]);
    EXPECT_EQ(rejected, reject_lines_);
    EXPECT_EQ(read_jsonl(read_file(out_ / "failures.jsonl")).size(), doomed_);
    json manifest = json::parse(read_file(out_ / "manifest.json"));
    EXPECT_EQ(manifest["complete"], true);
    EXPECT_EQ(manifest["checkpoint"]["totals"]["records"], kPersonas - doomed_);
    EXPECT_EQ(manifest["checkpoint"]["totals"]["failed"], doomed_);
    EXPECT_EQ(manifest["checkpoint"]["totals"]["rejected"], reject_lines_.size());
  }

  // The checkpointed progress in manifest.json: its records + failures + rejects, or 0.
  uint64_t checkpointed() const {
    std::error_code ec;
    if (!fs::exists(out_ / "manifest.json", ec)) return 0;
    json m = json::parse(read_file(out_ / "manifest.json"), nullptr, false);
    if (m.is_discarded()) return 0;
    const json& t = m["checkpoint"]["totals"];
    return t.value("records", 0ULL) + t.value("failed", 0ULL) + t.value("rejected", 0ULL);
  }

  // Starts a run and sends it `sig` once the server has received `more` more requests
  // (at once when `more` is 0). With `after_checkpoint`, the run must first have written a
  // checkpoint with more progress than before, so the kill lands after kept work: on a fast
  // machine a run can otherwise make hundreds of requests before its first checkpoint.
  // Returns the run's result, and whether it was signalled or ended by itself first.
  struct Outcome {
    Result result;
    bool signalled = false;
  };
  Outcome interrupt_after(const TestServer& server, size_t more, int sig,
                          const std::vector<std::string>& run_args, bool after_checkpoint = false) {
    uint64_t kept = checkpointed();
    pid_t pid = spawn(run_args, server.base_url());
    std::optional<Result> ended;
    if (after_checkpoint) {
      bool reached = wait_until(
          [&] {
            if (!ended) ended = try_wait(pid);
            return ended || checkpointed() > kept;
          },
          60s);
      EXPECT_TRUE(reached) << "no checkpoint within 60 s";
      if (ended) return {*ended, false};
    }
    size_t target = server.chat_request_count() + more;
    if (more > 0) {
      bool reached = wait_until(
          [&] {
            if (!ended) ended = try_wait(pid);
            return ended || server.chat_request_count() >= target;
          },
          60s);
      EXPECT_TRUE(reached) << "no progress within 60 s";
      if (ended) return {*ended, false};
    }
    kill(pid, sig);
    std::optional<Result> r = wait_for(pid, 60s);
    EXPECT_TRUE(r.has_value()) << "still running 60 s after signal " << sig;
    if (!r) return {};
    return {*r, true};
  }

  std::vector<std::string> all_;
  std::vector<int> reject_lines_;
  size_t doomed_ = 0;
  fs::path input_;
  fs::path out_;
};

TEST_F(CrashTest, KillNineAtRandomMomentsThenResumeGivesEveryPersonaExactlyOnce) {
  std::mt19937 rng(20240611);
  int kills = 0;
  int finished_early = 0;
  // Each kill is followed by a check that the directory is fit to resume from; the next run
  // is the resume.
  auto kill_after = [&](const TestServer& server, size_t more, bool after_checkpoint) {
    Outcome o = interrupt_after(server, more, SIGKILL, args(), after_checkpoint);
    if (!o.signalled) {
      ++finished_early;
      EXPECT_EQ(o.result.exit_code, 3) << o.result.err;
      return;
    }
    // A SIGKILL that lands just as the run ends finds it exited.
    EXPECT_TRUE(o.result.exit_code == 128 + SIGKILL || o.result.exit_code == 3)
        << o.result.exit_code << " " << o.result.err;
    EXPECT_TRUE(no_crash_output(o.result.err));
    EXPECT_TRUE(check_checkpoint_prefixes(out_, "math")) << "after kill " << kills + 1;
    ++kills;
  };

  {
    // Given a server with a small delay, kills at random amounts of progress, and kills right
    // at the start: before any request (0), which after the first run lands in the resume's
    // own restore of the directory, or as the first request arrives (1),
    ServerOptions options;
    options.delay_ms = 2;
    TestServer server(options);
    std::uniform_int_distribution<size_t> progress(50, 350);
    const size_t kRandom = ~size_t{0};
    for (size_t more : {size_t{0}, kRandom, size_t{0}, kRandom, size_t{1}, kRandom, size_t{0},
                        kRandom, kRandom, kRandom, kRandom, kRandom}) {
      if (finished_early == 0)
        kill_after(server, more == kRandom ? progress(rng) : more, more == kRandom);
    }
  }
  {
    // and more kills while the server also faults 10% of requests,
    ServerOptions options;
    options.delay_ms = 1;
    options.fault_rate = 0.1;
    options.seed = 99;
    TestServer server(options);
    std::uniform_int_distribution<size_t> progress(50, 300);
    for (int i = 0; i < 4 && finished_early == 0; ++i) kill_after(server, progress(rng), true);
  }
  ASSERT_EQ(finished_early, 0) << "a run finished before its kill; use more personas";
  std::vector<json> before_final;
  for (const auto& shard : shard_files(out_, "math"))
    if (auto error = parse_jsonl(read_file(shard), before_final)) ADD_FAILURE() << *error;

  // when the same command finally runs to the end,
  TestServer server;
  Result r = run(args(), server.base_url());

  // then it completes, having kept the work of the killed runs, with every persona exactly once.
  expect_complete(r);
  EXPECT_LT(server.chat_request_count(), static_cast<size_t>(kPersonas));
  EXPECT_GE(kills, 16);
  std::printf(
      "[ crash    ] %d SIGKILLs survived and resumed; %zu records in complete shards "
      "before the final run, which sent %zu requests for the remaining personas\n",
      kills, before_final.size(), server.chat_request_count());
  RecordProperty("sigkills_survived", kills);
}

TEST_F(CrashTest, KillNineAsTheRunEndsStillResumes) {
  // Given runs of 250 personas into fresh directories, each killed as its last requests arrive,
  // while it writes the last records, closes the last shard or writes the final manifest,
  std::vector<std::string> few(all_.begin(), all_.begin() + 250);
  fs::path input = write_personas("few.jsonl", few);
  int kills = 0;
  for (size_t short_of : {0, 0, 0, 1, 3, 10}) {
    out_ = dir_ / ("out-end-" + std::to_string(kills) + "-" + std::to_string(short_of));
    std::vector<std::string> a{"synth", "-i", input, "-t", "math", "-o", out_, "-q"};
    a.insert(a.end(), {"-j", "32", "--shard-size", "100", "--checkpoint-interval", "0.05"});
    TestServer server;
    Outcome o = interrupt_after(server, few.size() - short_of, SIGKILL, a);
    // A kill landed when SIGKILL ended the process; with 3 or more requests still to answer,
    // the run cannot have ended by itself first.
    bool landed = o.signalled && o.result.exit_code == 128 + SIGKILL;
    if (short_of >= 3) {
      EXPECT_TRUE(landed) << "the kill did not land: " << o.result.err;
    }
    kills += landed;
    EXPECT_TRUE(check_checkpoint_prefixes(out_, "math"));
    // when the same command runs again, then every persona is there exactly once (and 5 of
    // them, which always get 404, in failures.jsonl: exit code 3).
    Result r = run(a, server.base_url());
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_TRUE(check_exactly_once(out_, "math", few));
  }
  EXPECT_GE(kills, 2);
  std::printf("[ crash    ] %d SIGKILLs as the run ended, each resumed\n", kills);
}

TEST_F(CrashTest, SigtermOrSigintExits130AndEachRerunResumes) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> progress(50, 300);
  int interrupts = 0;
  for (int sig : {SIGTERM, SIGINT, SIGTERM}) {
    // Given a run under way, with some requests waiting for a retry (15% faults),
    ServerOptions options;
    options.delay_ms = 2;
    options.fault_rate = 0.15;
    options.seed = static_cast<uint64_t>(sig);
    TestServer server(options);
    // when it gets SIGTERM (or SIGINT),
    Outcome o = interrupt_after(server, progress(rng), sig, args());
    ASSERT_TRUE(o.signalled) << "the run ended before the signal: " << o.result.err;
    // then it exits 130 after a final checkpoint: nothing is torn, not even past it.
    EXPECT_EQ(o.result.exit_code, 130) << o.result.err;
    EXPECT_TRUE(no_crash_output(o.result.err));
    EXPECT_TRUE(check_checkpoint_prefixes(out_, "math"));
    for (const auto& entry : fs::directory_iterator(out_)) {
      std::string name = entry.path().filename();
      if (!name.ends_with(".jsonl") && !name.ends_with(".jsonl.tmp")) continue;
      std::vector<json> lines;
      if (auto error = parse_jsonl(read_file(entry.path()), lines))
        ADD_FAILURE() << name << ": " << *error;
    }
    interrupts += o.result.exit_code == 130;
  }
  // and a rerun completes with every persona exactly once.
  TestServer server;
  Result r = run(args(), server.base_url());
  expect_complete(r);
  EXPECT_LT(server.chat_request_count(), static_cast<size_t>(kPersonas));
  std::printf("[ crash    ] %d SIGTERM/SIGINTs gave exit 130 and resumed\n", interrupts);
}

TEST_F(CrashTest, ASecondSignalExitsAtOnceWithinTheGracePeriod) {
  std::vector<std::string> slow_args{
      "synth", "-i",      input_, "-t",        "math", "-o",           out_,  "-j",
      "8",     "--grace", "30",   "--timeout", "60",   "--shard-size", "100", "-q"};
  {
    // Given requests in flight that take 20 s, and a grace period of 30 s,
    ServerOptions options;
    options.delay_ms = 20000;
    TestServer server(options);
    pid_t pid = spawn(slow_args, server.base_url());
    ASSERT_TRUE(server.wait_for_chat_requests(8, 30s));

    // when SIGTERM comes, is taken, and a second SIGTERM follows,
    ASSERT_EQ(kill(pid, SIGTERM), 0);
    ASSERT_TRUE(wait_until([&] { return !signal_pending(pid, SIGTERM); }, 5s));
    ASSERT_FALSE(try_wait(pid).has_value()) << "one SIGTERM must wait for the requests in flight";
    auto second = std::chrono::steady_clock::now();
    ASSERT_EQ(kill(pid, SIGTERM), 0);

    // then it exits 130 at once, not after the requests or the grace period.
    std::optional<Result> r = wait_for(pid, 5s);
    ASSERT_TRUE(r.has_value()) << "still running 5 s after the second signal";
    EXPECT_EQ(r->exit_code, 130) << r->err;
    EXPECT_TRUE(no_crash_output(r->err));
    EXPECT_TRUE(check_checkpoint_prefixes(out_, "math"));
    std::printf("[ crash    ] exited %.2f s after the second signal\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - second).count());
  }
  // And a rerun completes with every persona exactly once.
  TestServer server;
  expect_complete(run(slow_args, server.base_url()));
}

}  // namespace
}  // namespace personagen::e2e
