#include "synth/synth_run.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "store/run_dir.h"
#include "store/shard_writer.h"
#include "support/fake_transport.h"
#include "support/unit_support.h"
#include "synth/synth_plan.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Keeps every record, failure and reject in memory. `on_record` sees each record as it is
// written, so a test can check what had happened by then.
class MemorySink final : public RecordSink {
 public:
  void write_record(std::string_view line) override {
    records.emplace_back(line);
    if (on_record) on_record(json::parse(line));
  }
  void write_side(SideFile file, std::string_view line) override {
    (file == SideFile::failures  ? failures
     : file == SideFile::rejects ? rejects
                                 : unverified)
        .emplace_back(line);
  }
  const WriterState& state() const override { return state_; }
  WriterState sync() override { return state_; }
  WriterState close() override {
    ++closes;
    return state_;
  }

  std::vector<std::string> records, failures, rejects, unverified;
  int closes = 0;
  std::function<void(const json& record)> on_record;

 private:
  WriterState state_;
};

// Records what the run reported instead of printing it.
class RecordingStatus final : public RunStatus {
 public:
  struct Finish {
    Progress progress;
    std::string destination;
    bool always = false;
  };
  void update(const Progress&) override { ++updates; }
  void finish(const Progress& progress, const std::string& destination, bool always) override {
    finishes.push_back({progress, destination, always});
  }
  void note(const std::string& line) override { notes.push_back(line); }

  int updates = 0;
  std::vector<Finish> finishes;
  std::vector<std::string> notes;
};

// A chat completion reply as an OpenAI-compatible server sends it.
std::string completion_json(const std::string& content, int prompt_tokens, int completion_tokens,
                            const std::string& finish_reason = "stop") {
  json reply = {{"id", "chatcmpl-1"},
                {"object", "chat.completion"},
                {"model", "m"},
                {"choices",
                 {{{"index", 0},
                   {"message", {{"role", "assistant"}, {"content", content}}},
                   {"finish_reason", finish_reason}}}},
                {"usage",
                 {{"prompt_tokens", prompt_tokens},
                  {"completion_tokens", completion_tokens},
                  {"total_tokens", prompt_tokens + completion_tokens}}}};
  return reply.dump();
}

// A 200 reply whose content the task's parser refuses. retry-after-ms 0 lets its retry start at
// once instead of after the default backoff of up to half a second.
HttpResponse invalid_reply(int prompt_tokens, int completion_tokens) {
  HttpResponse response =
      FakeTransport::ok(completion_json("Sure! Here is a tool.", prompt_tokens, completion_tokens));
  response.retry_after_ms = "0";
  return response;
}

const char* const kScheduleTool =
    R"({"type":"function","function":{"name":"get_schedule","description":"Looks up shifts.",)"
    R"("parameters":{"type":"object","properties":{"day":{"type":"string"}}}})";

std::string input_line(const std::string& id, const std::string& persona) {
  return json{{"id", id}, {"persona", persona}}.dump();
}

// The one of `personas` that the request's prompt is about, or "" if none is.
std::string persona_of(const HttpRequest& request, const std::vector<std::string>& personas) {
  for (const std::string& persona : personas)
    if (request.body.find(persona) != std::string::npos) return persona;
  return "";
}

class SynthRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "synth_run_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Options for task `task` over an input file of `lines`, to stdout, one retry per request.
  Options options(const std::string& task, const std::vector<std::string>& lines) {
    std::string path = (dir_ / "input.jsonl").string();
    std::ofstream file(path, std::ios::binary);
    for (const std::string& line : lines) file << line << "\n";
    Options o;
    o.inputs = {path};
    o.task = task;
    o.model = "m";
    o.output = "-";
    o.concurrency = 16;
    o.max_retries = 1;
    return o;
  }

  // Runs a fresh SynthRun over `transport` into `sink_` and `status_`; keeps its durable totals.
  ExitCode run(const Options& o, FakeTransport& transport) {
    SynthPlan plan = make_plan(o);
    SynthRun synth(o, plan, sink_, RunStart{}, "", status_);
    std::atomic<int> interrupt{0};
    ExitCode code = synth.run(transport, interrupt);
    totals_ = synth.durable_totals();
    return code;
  }

  fs::path dir_;
  MemorySink sink_;
  RecordingStatus status_;
  Totals totals_;
};

const std::vector<std::string> kPersonas = {"a Murano glassblower", "a zeppelin pilot",
                                            "a Lisbon tram driver", "a Saturn ring surveyor",
                                            "a Frisian beekeeper"};

// The input lines for the first `n` of kPersonas, with ids p1, p2, ...
std::vector<std::string> persona_lines(size_t n) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < n; ++i)
    lines.push_back(input_line("p" + std::to_string(i + 1), kPersonas[i]));
  return lines;
}

TEST_F(SynthRunTest, EverySelectedLineBecomesOneRecordWithItsPersona) {
  // Given three personas and a server that answers every request
  Options o = options("math", persona_lines(3));
  FakeTransport transport(
      [](const HttpRequest&, int) { return FakeTransport::ok(completion_json("2+2=?", 10, 5)); });

  // When the run goes to the end
  ExitCode code = run(o, transport);

  // Then it ends ok, with one request and exactly one record per line, carrying its persona
  EXPECT_EQ(code, ExitCode::ok);
  std::multiset<std::string> expected(kPersonas.begin(), kPersonas.begin() + 3);
  std::multiset<std::string> asked, written;
  for (const HttpRequest& request : transport.started) asked.insert(persona_of(request, kPersonas));
  EXPECT_EQ(asked, expected);
  ASSERT_EQ(sink_.records.size(), 3u);
  for (const std::string& record : sink_.records) {
    json r = json::parse(record);
    std::string persona = r["persona"];
    written.insert(persona);
    size_t index = std::find(kPersonas.begin(), kPersonas.end(), persona) - kPersonas.begin();
    EXPECT_EQ(r["persona_id"], "p" + std::to_string(index + 1)) << persona;
    EXPECT_EQ(r["output"], "2+2=?");
  }
  EXPECT_EQ(written, expected);
  EXPECT_TRUE(sink_.failures.empty());
  EXPECT_TRUE(sink_.rejects.empty());
  EXPECT_EQ(sink_.closes, 1);
  EXPECT_EQ(totals_.records, 3u);
  EXPECT_EQ(totals_.requests, 3u);
  // And the status got one final line, for stdout, not forced out as a failure
  ASSERT_EQ(status_.finishes.size(), 1u);
  EXPECT_EQ(status_.finishes[0].destination, "stdout");
  EXPECT_FALSE(status_.finishes[0].always);
  EXPECT_EQ(status_.finishes[0].progress.done, 3u);
}

TEST_F(SynthRunTest, AReplyTheParserRefusesIsRetriedThenFailsAsInvalidOutput) {
  // Given a tool task with one retry, and a server that never answers the pilot with a tool
  Options o = options("tool", persona_lines(2));
  FakeTransport transport([](const HttpRequest& request, int) {
    if (persona_of(request, kPersonas) == kPersonas[1]) return invalid_reply(10, 5);
    return FakeTransport::ok(completion_json(kScheduleTool, 10, 5));
  });

  // When the run goes to the end
  ExitCode code = run(o, transport);

  // Then the pilot was asked twice and became one failure naming invalid_output, not a record
  EXPECT_EQ(code, ExitCode::some_failed);
  size_t pilot_requests = 0;
  for (const HttpRequest& request : transport.started)
    pilot_requests += persona_of(request, kPersonas) == kPersonas[1];
  EXPECT_EQ(pilot_requests, 2u);
  ASSERT_EQ(sink_.failures.size(), 1u);
  json failure = json::parse(sink_.failures[0]);
  EXPECT_EQ(failure["kind"], "invalid_output");
  EXPECT_EQ(failure["persona"], kPersonas[1]);
  EXPECT_EQ(failure["line"], 2);
  EXPECT_EQ(failure["attempts"], 2);
  EXPECT_NE(failure["reason"].get<std::string>().find("Sure! Here is a tool."), std::string::npos);
  // And the glassblower's valid tool is the only record
  ASSERT_EQ(sink_.records.size(), 1u);
  json record = json::parse(sink_.records[0]);
  EXPECT_EQ(record["persona"], kPersonas[0]);
  EXPECT_EQ(record["parsed"]["function"]["name"], "get_schedule");
  EXPECT_EQ(totals_.failed, 1u);
  ASSERT_EQ(status_.finishes.size(), 1u);
  EXPECT_TRUE(status_.finishes[0].always);
}

TEST_F(SynthRunTest, TextToPersonaWritesALineWholeOnceAllItsRelationsAreAnswered) {
  // Given three texts, three relations, and a server that answers one request a turn,
  // alternately the newest and the oldest, so the lines' replies interleave
  const std::vector<std::string> texts = {"tide tables of the Tagus", "a sourdough starter guide",
                                          "minutes of a chess club"};
  Options o = options("text-to-persona", {input_line("t1", texts[0]), input_line("t2", texts[1]),
                                          input_line("t3", texts[2])});
  o.relations = {"read", "write", "like"};
  std::map<std::string, int> answered;  // by text
  std::vector<std::string> answer_order;
  FakeTransport transport([&](const HttpRequest& request, int) {
    std::string text = persona_of(request, texts);
    ++answered[text];
    answer_order.push_back(text);
    return FakeTransport::ok(completion_json("A harbour pilot who keeps a logbook.", 30, 8));
  });
  transport.completions_per_wait = 1;
  transport.on_wait = [&] { transport.newest_first = !transport.newest_first; };
  std::vector<int> answered_when_written;
  sink_.on_record = [&](const json& record) {
    answered_when_written.push_back(answered[record["input"].get<std::string>()]);
  };

  // When the run goes to the end
  ExitCode code = run(o, transport);

  // Then each line was sent one request per relation, and the replies did interleave
  EXPECT_EQ(code, ExitCode::ok);
  ASSERT_EQ(transport.started.size(), 9u);
  for (const std::string& text : texts) EXPECT_EQ(answered[text], 3) << text;
  size_t runs = 0;
  for (size_t i = 0; i < answer_order.size(); ++i)
    runs += i == 0 || answer_order[i] != answer_order[i - 1];
  ASSERT_GT(runs, texts.size()) << "the fake did not finish the lines out of order";
  // And every record was written only once all three of its line's requests were answered
  ASSERT_EQ(sink_.records.size(), 9u);
  for (int n : answered_when_written) EXPECT_EQ(n, 3);
  // And a line's records are together, one per relation (request index 0, 1, 2)
  std::set<std::string> lines_seen;
  for (size_t group = 0; group < 3; ++group) {
    std::string text;
    std::set<std::string> relations;
    for (size_t i = group * 3; i < group * 3 + 3; ++i) {
      json r = json::parse(sink_.records[i]);
      if (text.empty()) text = r["input"];
      EXPECT_EQ(r["input"], text) << "record " << i << " is not with its line";
      relations.insert(r["relation"].get<std::string>());
      EXPECT_EQ(r["persona"], "A harbour pilot who keeps a logbook.");
    }
    EXPECT_EQ(relations, (std::set<std::string>{"read", "write", "like"})) << text;
    lines_seen.insert(text);
  }
  EXPECT_EQ(lines_seen.size(), 3u);
}

TEST_F(SynthRunTest, ALineThatIsNotJsonIsRejectedWithoutARequest) {
  // Given a broken line between two good ones
  Options o = options("math", {input_line("p1", kPersonas[0]), R"({"persona": "a cut-off li)",
                               input_line("p2", kPersonas[1])});
  FakeTransport transport(
      [](const HttpRequest&, int) { return FakeTransport::ok(completion_json("x+1=3", 10, 5)); });

  // When the run goes to the end
  ExitCode code = run(o, transport);

  // Then line 2 is one reject and cost no request; the others are records
  EXPECT_EQ(code, ExitCode::ok);
  EXPECT_EQ(transport.started.size(), 2u);
  ASSERT_EQ(sink_.rejects.size(), 1u);
  EXPECT_EQ(json::parse(sink_.rejects[0])["line"], 2);
  EXPECT_EQ(sink_.records.size(), 2u);
  EXPECT_TRUE(sink_.failures.empty());
  EXPECT_EQ(totals_.rejected, 1u);
}

TEST_F(SynthRunTest, LimitSendsOnlyTheFirstNLines) {
  // Given five personas and --limit 2
  Options o = options("math", persona_lines(5));
  o.limit = 2;
  FakeTransport transport(
      [](const HttpRequest&, int) { return FakeTransport::ok(completion_json("7*6=?", 10, 5)); });

  // When the run goes to the end
  ExitCode code = run(o, transport);

  // Then exactly the first two were asked, and written
  EXPECT_EQ(code, ExitCode::ok);
  ASSERT_EQ(transport.started.size(), 2u);
  std::set<std::string> asked;
  for (const HttpRequest& request : transport.started) asked.insert(persona_of(request, kPersonas));
  EXPECT_EQ(asked, (std::set<std::string>{kPersonas[0], kPersonas[1]}));
  EXPECT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(totals_.records, 2u);
}

TEST_F(SynthRunTest, AnUnauthorizedReplyThrowsAndWritesNoPartOfItsLine) {
  // Given a text with two relations, whose first request is answered and whose second gets 401
  Options o = options("text-to-persona", {input_line("t1", "a ferry timetable")});
  o.relations = {"read", "write"};
  int replies = 0;
  FakeTransport transport([&](const HttpRequest&, int) {
    if (++replies == 1) return FakeTransport::ok(completion_json("A commuter.", 10, 3));
    return FakeTransport::status(401, R"({"error":{"message":"invalid api key"}})");
  });

  // When the run goes
  ExitCode code = ExitCode::ok;
  std::string error = error_of([&] { run(o, transport); }, &code);

  // Then it throws Error naming the refusal, and the line whose first reply was accepted is not
  // written in part
  EXPECT_NE(error.find("HTTP 401: invalid api key"), std::string::npos) << error;
  EXPECT_EQ(code, ExitCode::error);
  EXPECT_EQ(transport.started.size(), 2u);
  EXPECT_TRUE(sink_.records.empty());
  EXPECT_TRUE(sink_.failures.empty());
  // And the status was finished once, not forced out: the error is the line a quiet run shows
  ASSERT_EQ(status_.finishes.size(), 1u);
  EXPECT_FALSE(status_.finishes[0].always);
}

TEST_F(SynthRunTest, BilledTokensCountRepliesThatWereRetriedAsInvalid) {
  // Given a tool task whose first persona gets an invalid reply, then a valid one
  Options o = options("tool", persona_lines(2));
  uint64_t billed_prompt = 0, billed_completion = 0;
  FakeTransport transport([&](const HttpRequest& request, int attempt) {
    bool invalid = persona_of(request, kPersonas) == kPersonas[0] && attempt == 1;
    int prompt = invalid ? 100 : 40 + attempt, completion = invalid ? 20 : 7;
    billed_prompt += static_cast<uint64_t>(prompt);
    billed_completion += static_cast<uint64_t>(completion);
    return invalid ? invalid_reply(prompt, completion)
                   : FakeTransport::ok(completion_json(kScheduleTool, prompt, completion));
  });

  // When the run goes to the end
  ExitCode code = run(o, transport);

  // Then both lines are records after three replies
  EXPECT_EQ(code, ExitCode::ok);
  EXPECT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(transport.started.size(), 3u);
  EXPECT_EQ(totals_.retries, 1u);
  // And every reply's usage is billed, the invalid one too; the records' tokens are the accepted
  EXPECT_EQ(totals_.billed_prompt_tokens, billed_prompt);
  EXPECT_EQ(totals_.billed_completion_tokens, billed_completion);
  EXPECT_EQ(totals_.prompt_tokens, billed_prompt - 100);
  EXPECT_EQ(totals_.completion_tokens, billed_completion - 20);
}
}  // namespace
}  // namespace personagen

namespace personagen {
namespace {

TEST_F(SynthRunTest, MaxCostStopsOnceTheBilledRepliesReachTheBudgetRetriesIncluded) {
  // Given a dollar per prompt token, a reply of one token, and a budget of three dollars
  Options o = options("math", persona_lines(5));
  o.concurrency = 1;
  o.price_in = 1e6;
  o.price_out = 0;
  o.max_cost = 3;
  // and a first reply cut off at the token limit: billed, then retried
  int replies = 0;
  FakeTransport transport([&replies](const HttpRequest&, int) {
    return FakeTransport::ok(completion_json("2+2=?", 1, 0, ++replies == 1 ? "length" : "stop"));
  });

  // When the run goes
  ExitCode code = run(o, transport);

  // Then it stops early, resumable, after the third billed reply: the retried one counted
  EXPECT_EQ(code, ExitCode::aborted);
  EXPECT_EQ(transport.started.size(), 3u);
  EXPECT_EQ(totals_.billed_prompt_tokens, 3u);
  EXPECT_EQ(sink_.records.size(), 2u);
}

TEST_F(SynthRunTest, ARecordNamesTheServedModelOnlyWhenItDiffersFromTheRequestedOne) {
  Options o = options("math", persona_lines(2));
  FakeTransport transport([](const HttpRequest& request, int) {
    json reply = json::parse(completion_json("2+2=?", 1, 1));
    // The server maps the alias of the first persona's request to a dated checkpoint.
    if (request.body.find(kPersonas[0]) != std::string::npos) reply["model"] = "m-2026-01-01";
    return FakeTransport::ok(reply.dump());
  });

  ASSERT_EQ(run(o, transport), ExitCode::ok);

  ASSERT_EQ(sink_.records.size(), 2u);
  for (const std::string& line : sink_.records) {
    json r = json::parse(line);
    EXPECT_EQ(r["model"], "m");
    if (r["persona"] == kPersonas[0])
      EXPECT_EQ(r["served_model"], "m-2026-01-01");
    else
      EXPECT_FALSE(r.contains("served_model")) << line;
  }
}

}  // namespace
}  // namespace personagen
