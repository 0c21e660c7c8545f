// synth --dry-run, --max-cost, render with synth's whole command line, and what the server says
// it runs (issue 13).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

const fs::path kExamples = fs::path(PERSONAGEN_SOURCE_DIR) / "examples" / "personas.jsonl";

class DryRun : public E2E {};

TEST_F(DryRun, CountsTheBundledExamplesAsRenderWouldSendThemAndWritesNothing) {
  TestServer server;
  fs::path out = dir_ / "math";
  fs::path summary = dir_ / "dry.json";
  std::vector<std::string> request = {"-t",      "math",         "-m",  "persona-few-shot", "-i",
                                      kExamples, "--max-tokens", "300", "--limit",          "50"};
  std::vector<std::string> dry = {"synth"};
  dry.insert(dry.end(), request.begin(), request.end());
  dry.insert(dry.end(), {"-o", out.string(), "--dry-run", "--price-in", "2", "--price-out", "8",
                         "--summary", summary.string()});
  Result r = run(dry, server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // What render prints is what synth would send: the count done here, one body a line.
  std::vector<std::string> rendering = {"render"};
  rendering.insert(rendering.end(), request.begin(), request.end());
  Result bodies = run(rendering, server.base_url());
  ASSERT_EQ(bodies.exit_code, 0) << bodies.err;
  uint64_t requests = 0, bytes = 0;
  for (size_t at = 0, end; (end = bodies.out.find('\n', at)) != std::string::npos; at = end + 1) {
    ++requests;
    bytes += end - at;
  }
  ASSERT_EQ(requests, 50u);
  uint64_t tokens = (bytes + 3) / 4;

  json s = read_json(summary);
  EXPECT_EQ(s["dry_run"], true);
  EXPECT_EQ(s["selected"], 50);
  EXPECT_EQ(s["rejected"], 0);
  EXPECT_EQ(s["requests"], 50);
  EXPECT_EQ(s["prompt_bytes"], bytes);
  EXPECT_EQ(s["prompt_tokens"], tokens);
  EXPECT_EQ(s["completion_tokens_max"], 300 * 50);
  EXPECT_DOUBLE_EQ(s["cost_min"].get<double>(), static_cast<double>(tokens) * 2 / 1e6);
  EXPECT_DOUBLE_EQ(s["cost_max"].get<double>(),
                   (static_cast<double>(tokens) * 2 + 300.0 * 50 * 8) / 1e6);
  EXPECT_NE(r.out.find("50 selected, 0 rejected"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4 bytes a token"), std::string::npos) << r.out;  // says how it estimates
  // Nothing was sent and nothing was written.
  EXPECT_TRUE(server.chat_requests().empty());
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(DryRun, AConversationCountsItsRequestsNotItsTurns) {
  fs::path in = dir_ / "r.jsonl";
  std::ofstream(in) << R"({"persona":"a nurse","output":"How do I sleep after nights?"})"
                    << "\n";
  Result r = run({"synth", "-t", "converse", "-i", in, "-o", dir_ / "out", "--turns", "3",
                  "--model", "m", "--dry-run"},
                 "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 3 turns: an answer, then 2 x (a user turn and its answer)
  EXPECT_NE(r.out.find("requests:    5 (converse, 1 per persona x 5 requests for 3 turns"),
            std::string::npos)
      << r.out;
}

TEST_F(DryRun, BatchExportDryRunCountsTheSameAndWritesNoBatchFiles) {
  TestServer server;
  fs::path in = write_personas("p.jsonl", personas(5));
  fs::path out = dir_ / "batch";
  fs::path summary = dir_ / "dry.json";
  Result r =
      run({"batch", "export", "-t", "npc", "-i", in, "-o", out, "--dry-run", "--summary", summary},
          server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json s = read_json(summary);
  EXPECT_EQ(s["requests"], 5);
  EXPECT_TRUE(s["completion_tokens_max"].is_null());  // no --max-tokens: unknown
  EXPECT_FALSE(s.contains("cost_min"));               // no price
  EXPECT_NE(r.out.find("unknown"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(DryRun, RenderTakesTheWholeSynthCommandLine) {
  TestServer server;
  fs::path in = write_personas("p.jsonl", personas(3));
  Result plain = run({"render", "-t", "math", "-i", in, "--temperature", "0.5"}, server.base_url());
  Result whole = run({"render",
                      "-t",
                      "math",
                      "-i",
                      in,
                      "--temperature",
                      "0.5",
                      "-o",
                      (dir_ / "out").string(),
                      "-j",
                      "8",
                      "--price-in",
                      "1",
                      "--price-out",
                      "2",
                      "--max-cost",
                      "5",
                      "--max-failures",
                      "3%",
                      "--timeout",
                      "30",
                      "--summary",
                      (dir_ / "s.json").string(),
                      "--restart",
                      "--checkpoint-interval",
                      "1"},
                     server.base_url());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_EQ(whole.out, plain.out);
  EXPECT_FALSE(plain.out.empty());
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_TRUE(server.chat_requests().empty());
}

TEST_F(DryRun, MaxCostStopsTheRunAndAHigherLimitResumesItExactlyOnce) {
  TestServer server;
  fs::path in = write_personas("p.jsonl", personas(12));
  fs::path out = dir_ / "math";
  // A dollar per prompt token: the first reply alone passes a budget of one dollar.
  auto args = [&](const std::string& budget) {
    return std::vector<std::string>{
        "synth", "-t",         "math",    "-i",          in,  "-o",         out,   "-j", "1",
        "-q",    "--price-in", "1000000", "--price-out", "0", "--max-cost", budget};
  };
  Result first = run(args("1"), server.base_url());
  EXPECT_EQ(first.exit_code, 4) << first.err;
  EXPECT_NE(first.err.find("stopped early, rerun with a higher --max-cost to go on"),
            std::string::npos)
      << first.err;
  EXPECT_EQ(first.err.find("rerun the same command"), std::string::npos) << first.err;
  size_t sent = server.chat_requests().size();
  EXPECT_GE(sent, 1u);
  EXPECT_LT(sent, 12u);

  // The same budget again: already spent, so nothing is sent.
  Result again = run(args("1"), server.base_url());
  EXPECT_EQ(again.exit_code, 4) << again.err;
  EXPECT_EQ(server.chat_requests().size(), sent);

  // A higher one goes on where the run stopped, and every persona ends up once.
  Result rest = run(args("1000000000"), server.base_url());
  EXPECT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_EQ(server.chat_requests().size(), 12u);
  EXPECT_EQ(read_shards(out, "math").size(), 12u);
  EXPECT_TRUE(check_exactly_once(out, "math", personas(12)));
  // The manifest records what the server listed when the run began.
  EXPECT_EQ(read_json(out / "manifest.json")["server_models"], json::array({"test-model"}));
}

TEST_F(DryRun, MaxCostWithoutAPriceIsRefusedBeforeAnythingIsSent) {
  TestServer server;
  fs::path in = write_personas("p.jsonl", personas(2));
  Result r = run({"synth", "-t", "math", "-i", in, "-o", dir_ / "out", "--max-cost", "5"},
                 server.base_url());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--max-cost needs --price-in"), std::string::npos) << r.err;
  // One price is not enough either: the other half of the bill would count as free.
  for (const char* price : {"--price-in", "--price-out"}) {
    Result half =
        run({"synth", "-t", "math", "-i", in, "-o", dir_ / "out", "--max-cost", "5", price, "1"},
            server.base_url());
    EXPECT_EQ(half.exit_code, 2) << price;
    EXPECT_NE(half.err.find("--max-cost needs --price-in and --price-out"), std::string::npos)
        << half.err;
  }
  EXPECT_TRUE(server.chat_requests().empty());
}

}  // namespace
}  // namespace personagen::e2e
