// End-to-end: the promises about input, counts and reports (issue 9) on the real binary: a
// summary that claims only what is saved, an input that grows or shrinks under a run, one
// meaning of --limit, --sample's rejects, failure rates per request, and honest progress.
#include <gtest/gtest.h>

#include <regex>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using namespace std::chrono_literals;
using personagen::testing::ServerOptions;
using personagen::testing::TestServer;

// The plain progress lines in `err` ("[ 42%] 12 done, ... | 2 in flight, 0 retrying | ..."): each
// line's percentage, and whether requests were still in flight or waiting then.
struct ProgressLine {
  int percent = 0;
  bool busy = false;
};
std::vector<ProgressLine> progress_lines(const std::string& err) {
  std::vector<ProgressLine> out;
  std::regex pattern(R"(\[ *(\d+)%\][^\n]*\| ([\d,]+) in flight, ([\d,]+) retrying)");
  for (std::sregex_iterator it(err.begin(), err.end(), pattern), end; it != end; ++it)
    out.push_back({std::stoi((*it)[1]), (*it)[2] != "0" || (*it)[3] != "0"});
  return out;
}

TEST_F(E2E, AFullDiskLeavesASummaryOfWhatWasSavedAndNoTempFile) {
  // Given a run whose files may not grow past 30 kB (writes then fail, as on a full disk),
  TestServer server;
  fs::path input = write_personas("in.jsonl", personas(300));
  fs::path out = dir_ / "out";
  fs::path summary = dir_ / "summary.json";
  launcher_ = {"/usr/bin/prlimit", "--fsize=30000"};
  Result r = run({"synth", "-i", input, "-t", "math", "-o", out, "--summary", summary, "-q",
                  "--checkpoint-interval", "0.01", "-j", "2"},
                 server.base_url());
  launcher_.clear();
  // then it fails with one clear line,
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  // and the summary counts exactly the records of the last checkpoint, with no temp file left.
  json s = read_json(summary);
  json manifest = read_json(out / "manifest.json");
  EXPECT_EQ(s["totals"]["records"], manifest["checkpoint"]["totals"]["records"]) << s.dump();
  EXPECT_FALSE(fs::exists(dir_ / "summary.json.tmp"));
  EXPECT_FALSE(fs::exists(out / "manifest.json.tmp"));
}

TEST_F(E2E, AnUnwritableSummaryPathIsRefusedBeforeAnyRequest) {
  TestServer server;
  fs::path input = write_personas("in.jsonl", personas(5));
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "--summary",
                  dir_ / "no-such-dir" / "summary.json"},
                 server.base_url());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--summary"), std::string::npos) << r.err;
  EXPECT_EQ(server.chat_request_count(), 0u);
}

TEST_F(E2E, ASummaryInsideTheOutputDirectoryWorks) {
  // Given --summary inside an output directory that does not exist yet,
  TestServer server;
  fs::path input = write_personas("in.jsonl", personas(5));
  fs::path out = dir_ / "out";
  std::vector<std::string> args{
      "synth", "-i", input, "-t", "math", "-o", out, "--summary", out / "summary.json", "-q"};
  // when a first attempt fails before the run begins (the output directory exists, but the
  // input does not), and the fixed command runs twice,
  fs::create_directories(out);
  std::vector<std::string> broken = args;
  broken[2] = (dir_ / "missing.jsonl").string();
  EXPECT_EQ(run(broken, server.base_url()).exit_code, 2);
  Result first = run(args, server.base_url());
  Result again = run(args, server.base_url());
  // then both succeed: the summary is not taken for a stranger's file in the directory.
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(read_json(out / "summary.json")["status"], "ok");
}

TEST_F(E2E, LinesAppendedDuringARunAreReadAndItsRerunIsComplete) {
  // Given a slow run over 200 personas,
  ServerOptions slow;
  slow.delay_ms = 10;
  TestServer server(slow);
  std::vector<std::string> first = personas(200), more = personas(20, "late");
  fs::path input = write_personas("in.jsonl", first);
  std::vector<std::string> args{"synth", "-i",         input, "-t", "math",
                                "-o",    dir_ / "out", "-q",  "-j", "2"};
  pid_t pid = spawn(args, server.base_url());
  // when 20 more lines are appended while it runs,
  ASSERT_TRUE(server.wait_for_chat_requests(5, 30s));
  {
    std::ofstream append(input, std::ios::app);
    for (const auto& p : more) append << json{{"persona", p}}.dump() << "\n";
  }
  Result r = wait(pid);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // then it took them, and rerunning the same command finds the run complete.
  std::vector<std::string> all = first;
  all.insert(all.end(), more.begin(), more.end());
  EXPECT_TRUE(check_exactly_once(dir_ / "out", "math", all));
  size_t sent = server.chat_request_count();
  args.erase(std::find(args.begin(), args.end(), "-q"));
  Result again = run(args, server.base_url());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("already complete"), std::string::npos) << again.err;
  EXPECT_EQ(server.chat_request_count(), sent);
}

TEST_F(E2E, AnInputCutShortDuringARunIsAnError) {
  ServerOptions slow;
  slow.delay_ms = 10;
  TestServer server(slow);
  // Given a run over a 6 MB file (the reader holds at most a few MB of it at a time),
  std::vector<std::string> long_personas = personas(2000);
  for (std::string& p : long_personas) p += " " + std::string(3000, 'x');
  fs::path input = write_personas("in.jsonl", long_personas);
  pid_t pid = spawn({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "-q", "-j", "8"},
                    server.base_url());
  // when the file is truncated in place to a tenth,
  ASSERT_TRUE(server.wait_for_chat_requests(5, 30s));
  fs::resize_file(input, fs::file_size(input) / 10);
  Result r = wait(pid);
  // then the run does not report success: it names the file and that it shrank.
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("shrank"), std::string::npos) << r.err;
}

TEST_F(E2E, RenderShowsExactlyTheBodiesSynthSendsWithMatchAndLimit) {
  // Given personas of which every third matches,
  std::vector<std::string> all;
  for (int i = 0; i < 60; ++i)
    all.push_back((i % 3 == 0 ? "A nurse " : "A pilot ") + std::to_string(i));
  fs::path input = write_personas("in.jsonl", all);
  std::vector<std::string> common{"-i",      input,   "-t",      "math", "-m", "persona-few-shot",
                                  "--match", "nurse", "--limit", "7"};
  // when render and synth run with the same selection,
  std::vector<std::string> render_args{"render"};
  render_args.insert(render_args.end(), common.begin(), common.end());
  TestServer server;
  Result rendered = run(render_args, server.base_url());
  ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
  std::vector<std::string> synth_args{"synth", "-o", dir_ / "out", "-q", "-j", "1"};
  synth_args.insert(synth_args.end(), common.begin(), common.end());
  Result synth = run(synth_args, server.base_url());
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  // then render printed, byte for byte, the 7 bodies synth sent.
  std::vector<std::string> bodies;
  std::istringstream lines(rendered.out);
  for (std::string line; std::getline(lines, line);) bodies.push_back(line);
  EXPECT_EQ(bodies.size(), 7u);
  EXPECT_EQ(server.chat_requests(), bodies);
}

TEST_F(E2E, SampleCountsRejectsOutOfTheWholeInput) {
  // Given 200 lines of which 10 are not JSON, and a sample of 5 with --max-rejects 20%,
  fs::path input = dir_ / "in.jsonl";
  {
    std::ofstream out(input);
    for (int i = 0; i < 200; ++i)
      out << (i % 20 == 7 ? std::string("not json")
                          : json{{"persona", "p " + std::to_string(i)}}.dump())
          << "\n";
  }
  TestServer server;
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "-q", "--sample", "5",
                  "--max-rejects", "20%"},
                 server.base_url());
  // then 10 of 200 (5%) is under the limit: the run succeeds.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_shards(dir_ / "out", "math").size(), 5u);
}

TEST_F(E2E, MaxFailuresAsARateCountsRequestsNotPersonaRecords) {
  // Given persona-to-persona (three personas a request) where 40% of requests fail,
  ServerOptions faulty;
  faulty.fault_rate = 0.4;
  faulty.fault_kinds = {"500"};
  faulty.seed = 3;
  TestServer server(faulty);
  fs::path input = write_personas("in.jsonl", personas(300));
  // when the limit is 30% of requests,
  Result r = run({"synth", "-t", "persona-to-persona", "-i", input, "-o", dir_ / "out", "-q",
                  "--max-retries", "0", "--max-failures", "30%"},
                 server.base_url());
  // then the run stops early (exit 4): 40% of requests failed, whatever the records say.
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("--max-failures"), std::string::npos) << r.err;
}

TEST_F(E2E, ProgressCountsTowardsTheLimitOrSampleAndNeverShowsDoneWhileWorkIsLeft) {
  ServerOptions slow;
  slow.delay_ms = 20;
  TestServer server(slow);
  fs::path input = write_personas("in.jsonl", personas(200));
  for (std::string flag : {"--limit", "--sample"}) {
    SCOPED_TRACE(flag);
    // Given 60 of 200 personas and frequent plain progress lines,
    Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / ("out" + flag), flag, "60",
                    "-j", "2", "--progress-interval", "0.02"},
                   server.base_url());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<ProgressLine> seen = progress_lines(r.err);
    ASSERT_GE(seen.size(), 3u) << r.err;
    // then the percentage starts low (a sample has read the whole file, yet done nothing), goes
    // well past 30% (60 of 200 lines), and is 100% only when nothing is in flight or waiting.
    EXPECT_LE(seen.front().percent, 50) << r.err;
    int most = 0;
    for (const ProgressLine& line : seen) {
      most = std::max(most, line.percent);
      if (line.busy) {
        EXPECT_LT(line.percent, 100) << r.err;
      }
    }
    EXPECT_GE(most, 50) << r.err;
  }
}

TEST_F(E2E, AFailureForInvalidOutputQuotesTheOutput) {
  TestServer server;
  fs::path input = write_personas("in.jsonl", {"A potter", "A smith [[fault:badjson*always]]"});
  Result r =
      run({"synth", "-i", input, "-t", "npc", "-o", dir_ / "out", "-q", "--max-retries", "1"},
          server.base_url());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  json failure = read_jsonl(read_file(dir_ / "out/failures.jsonl")).at(0);
  EXPECT_EQ(failure["kind"], "invalid_output");
  EXPECT_NE(failure["reason"].get<std::string>().find("the output begins \"this is not json\""),
            std::string::npos)
      << failure.dump();
}

}  // namespace
}  // namespace personagen::e2e
