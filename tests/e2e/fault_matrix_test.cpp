// The fault matrix: the real binary against the local test server with each fault kind alone,
// then all of them mixed at random. Whatever the faults, every persona must end up exactly once
// in the shards or in failures.jsonl, after exactly the attempts the faults imply.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::ServerOptions;
using personagen::testing::TestServer;

// Personas alternating between `marked` ones that carry `marker` and `plain` ones that do not.
struct Personas {
  std::vector<std::string> all, marked, plain;
};

Personas mix(const std::string& marker, int marked, int plain) {
  Personas p;
  for (int i = 0; i < std::max(marked, plain); ++i) {
    if (i < marked) {
      p.marked.push_back("A marked persona " + std::to_string(i) + " " + marker);
      p.all.push_back(p.marked.back());
    }
    if (i < plain) {
      p.plain.push_back("A plain persona " + std::to_string(i) + " who keeps bees");
      p.all.push_back(p.plain.back());
    }
  }
  return p;
}

class FaultMatrix : public E2E {};

// Each kind runs in its own synth process against its own server, all at the same time: the
// runs are independent, and most of their time is spent waiting for backoff.
TEST_F(FaultMatrix, EachFaultAloneCostsMarkedPersonasExactlyTwoMoreAttempts) {
  // badjson is a reply whose content is not JSON: fine for a text task, so it runs with tool.
  const std::vector<std::string> kinds{
      "500",     "502",  "503",  "504",      "408",       "409",   "429ra",  "429ms",
      "429date", "drop", "hang", "truncate", "malformed", "empty", "length", "badjson"};
  struct Run {
    std::string kind;
    std::string task;
    Personas personas;
    std::unique_ptr<TestServer> server;
    fs::path out;
    pid_t pid = -1;
  };
  std::vector<Run> runs;
  for (const std::string& kind : kinds) {
    // Given, for each kind, personas of which some get that fault on their first two attempts,
    // 429ra and 429date wait the server's Retry-After (1-2 s) per retry, hang for --timeout.
    bool slow = kind == "hang" || (kind.starts_with("429") && kind != "429ms");
    Run run{kind, kind == "badjson" ? "tool" : "math",
            mix("[[fault:" + kind + "*2]]", slow ? 3 : 6, slow ? 3 : 10), nullptr,
            dir_ / ("out-" + kind)};
    ServerOptions options;
    options.threads = 32;
    run.server = std::make_unique<TestServer>(options);
    auto input = write_personas("in-" + kind + ".jsonl", run.personas.all);
    std::vector<std::string> args{"synth", "-i", input, "-t", run.task, "-o", run.out, "-q"};
    // --length-retries 3: a cut-off reply retries like any other fault here (its default of 1 has
    // a test of its own).
    args.insert(args.end(), {"-j", "8", "--max-retries", "3", "--length-retries", "3"});
    // The timeout must be long enough that a plain request never reaches it, even under a
    // sanitizer with all these runs sharing two cores (1 s did, once, under ThreadSanitizer).
    if (kind == "hang") args.insert(args.end(), {"--timeout", "5"});
    // when synth runs,
    run.pid = spawn(args, run.server->base_url(), {}, kind);
    runs.push_back(std::move(run));
  }

  for (Run& run : runs) {
    SCOPED_TRACE("fault " + run.kind);
    std::optional<Result> r = wait_for(run.pid, std::chrono::seconds(60));
    ASSERT_TRUE(r.has_value()) << "synth still runs after 60 s";
    // then it succeeds with every persona once; the marked ones took exactly three attempts,
    // the others one, and the server saw exactly those requests.
    ASSERT_EQ(r->exit_code, 0) << r->err;
    EXPECT_TRUE(no_crash_output(r->err));
    EXPECT_TRUE(check_exactly_once(run.out, run.task, run.personas.all));
    EXPECT_FALSE(fs::exists(run.out / "failures.jsonl"));
    std::map<std::string, int> attempts = attempts_by_persona(read_shards(run.out, run.task));
    for (const auto& persona : run.personas.marked) EXPECT_EQ(attempts[persona], 3) << persona;
    for (const auto& persona : run.personas.plain) EXPECT_EQ(attempts[persona], 1) << persona;
    EXPECT_EQ(run.server->chat_request_count(),
              3 * run.personas.marked.size() + run.personas.plain.size());
  }
}

TEST_F(FaultMatrix, MixedRandomFaultsStillGiveEveryPersonaExactlyOnce) {
  // Given a server that faults 30% of all requests with every retryable kind but hang, and a
  // few personas that also hang once past the timeout,
  ServerOptions options;
  options.fault_rate = 0.3;
  options.fault_kinds = {"500",   "502",     "503",  "504",      "408",       "409",   "429ra",
                         "429ms", "429date", "drop", "truncate", "malformed", "empty", "length"};
  options.seed = 20240611;
  TestServer server(options);
  std::vector<std::string> all = personas(300, "mixed");
  for (int i = 0; i < 300; i += 75) all[i] += " [[fault:hang*1]]";
  auto input = write_personas("in.jsonl", all);
  fs::path out = dir_ / "out";

  // when synth runs with enough retries that nothing fails for good,
  Result r = run({"synth", "-i", input, "-t", "math", "-o", out, "-j", "16", "--max-retries", "8",
                  "--length-retries", "8", "--timeout", "2", "--shard-size", "64", "-q"},
                 server.base_url());

  // then every persona is in a shard exactly once, and the attempts recorded add up to the
  // requests the server saw: no attempt is lost or counted twice.
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  EXPECT_TRUE(check_exactly_once(out, "math", all));
  std::vector<json> records = read_shards(out, "math");
  ASSERT_EQ(records.size(), all.size());
  size_t attempts = 0, retried = 0;
  for (const json& rec : records) {
    int n = rec["attempts"];
    EXPECT_GE(n, 1);
    attempts += static_cast<size_t>(n);
    retried += n > 1;
  }
  EXPECT_EQ(attempts, server.chat_request_count());
  // About 300 / 0.7 requests are expected; far fewer would mean the faults never happened.
  EXPECT_GT(attempts, 360u);
  EXPECT_GT(retried, 60u);
  std::map<std::string, int> by_persona = attempts_by_persona(records);
  for (int i = 0; i < 300; i += 75) EXPECT_GE(by_persona[all[i]], 2) << all[i];
}

TEST_F(FaultMatrix, ClientErrorsFailAtOnceWithTheirStatus) {
  // Given personas whose requests always get 400, 404 or 422, among ordinary ones,
  TestServer server;
  const std::map<int, std::string> doomed{{400, "A bad request [[fault:400*always]]"},
                                          {404, "A lost request [[fault:404*always]]"},
                                          {422, "An odd request [[fault:422*always]]"}};
  std::vector<std::string> fine = personas(5, "fine");
  std::vector<std::string> all{fine[0], doomed.at(400), fine[1], doomed.at(404),
                               fine[2], doomed.at(422), fine[3], fine[4]};
  std::map<std::string, int> line_of;
  for (size_t i = 0; i < all.size(); ++i) line_of[all[i]] = static_cast<int>(i + 1);
  auto input = write_personas("in.jsonl", all);
  fs::path out = dir_ / "out";

  // when synth runs,
  Result r = run({"synth", "-i", input, "-t", "math", "-o", out, "--max-retries", "4", "-q"},
                 server.base_url());

  // then it ends with exit code 3, each doomed persona in failures.jsonl after one attempt with
  // its status, and the others in the shards.
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  EXPECT_TRUE(check_exactly_once(out, "math", all));
  std::vector<json> failures = read_jsonl(read_file(out / "failures.jsonl"));
  ASSERT_EQ(failures.size(), doomed.size());
  for (const json& f : failures) {
    std::string persona = f["persona"];
    int status = f["status"];
    ASSERT_TRUE(doomed.contains(status)) << f.dump();
    EXPECT_EQ(doomed.at(status), persona);
    EXPECT_EQ(f["attempts"], 1) << f.dump();
    EXPECT_EQ(f["kind"], "http_status") << f.dump();
    EXPECT_EQ(f["line"], line_of[persona]) << f.dump();
    EXPECT_FALSE(f["reason"].get<std::string>().empty());
  }
  EXPECT_EQ(read_shards(out, "math").size(), 5u);
  EXPECT_EQ(server.chat_request_count(), all.size());
}

TEST_F(FaultMatrix, AStatusThatNeverRecoversFailsAfterMaxRetriesPlusOneAttempts) {
  // Given a persona whose requests always get 503,
  TestServer server;
  std::vector<std::string> all = personas(3, "fine");
  all.push_back("A persona always met by 503 [[fault:503*always]]");
  auto input = write_personas("in.jsonl", all);
  fs::path out = dir_ / "out";

  // when synth runs with --max-retries 2,
  Result r = run({"synth", "-i", input, "-t", "math", "-o", out, "--max-retries", "2", "-q"},
                 server.base_url());

  // then that persona fails for good after 3 attempts, as an http_status failure.
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  EXPECT_TRUE(check_exactly_once(out, "math", all));
  std::vector<json> failures = read_jsonl(read_file(out / "failures.jsonl"));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]["persona"], all.back());
  EXPECT_EQ(failures[0]["status"], 503);
  EXPECT_EQ(failures[0]["attempts"], 3);
  EXPECT_EQ(failures[0]["kind"], "http_status");
  EXPECT_EQ(failures[0]["line"], 4);
  EXPECT_EQ(server.chat_request_count(), 3u + 3u);
}

}  // namespace
}  // namespace personagen::e2e
