// The collector on the kinds of input it reads: a run directory with its side files and
// manifest, the records of each task (solve, also as --format chat, judge, npc, converse), and
// plain JSONL with --field. The figures themselves are tested in report_collector_test.cpp.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "collector_records.h"
#include "report/collector.h"
#include "store/manifest.h"

namespace personagen {
namespace {

using Json = nlohmann::json;
using collector_test::CollectorTest;
using collector_test::dataset;

TEST_F(CollectorTest, ReadsARunDirectoryWithItsSideFilesAndManifestCost) {
  // Given an output directory: a shard, two failures, a reject, and a manifest of billed tokens
  std::filesystem::create_directory(path("run"));
  write_file(path("run/records-00000.jsonl"), dataset());
  write_file(path("run/failures.jsonl"), "{\"kind\":\"timeout\"}\n\n{\"kind\":\"http\"}\n  \n");
  write_file(path("run/rejects.jsonl"), "{\"reason\":\"no persona\"}\n");
  Manifest manifest;
  manifest.checkpoint.totals.billed_prompt_tokens = 1000;
  manifest.checkpoint.totals.billed_completion_tokens = 500;
  write_manifest(path("run/manifest.json"), manifest);

  // When it is read with prices of $2 and $10 per million tokens
  ReportInput in = input_of({path("run")});
  in.label = "tonight";
  in.price_in = 2;
  in.price_out = 10;
  Figures f = collect_figures(in);

  // Then the side files' lines are counted (blank ones are not lines) and the cost is that of
  // the billed tokens
  EXPECT_EQ(f.label, "tonight");
  EXPECT_EQ(f.run.records, 14u);
  EXPECT_EQ(f.run.failures, 2u);
  EXPECT_EQ(f.run.rejects, 1u);
  EXPECT_EQ(f.run.unverified, 0u);
  EXPECT_EQ(f.run.billed_prompt_tokens, 1000u);
  EXPECT_EQ(f.run.billed_completion_tokens, 500u);
  ASSERT_TRUE(f.run.cost_usd);
  EXPECT_DOUBLE_EQ(*f.run.cost_usd, (1000 * 2.0 + 500 * 10.0) / 1e6);

  // And without a manifest, the cost is that of the accepted tokens
  std::filesystem::remove(path("run/manifest.json"));
  f = collect_figures(in);
  EXPECT_FALSE(f.run.billed_prompt_tokens);
  ASSERT_TRUE(f.run.cost_usd);
  EXPECT_DOUBLE_EQ(*f.run.cost_usd, (140 * 2.0 + 70 * 10.0) / 1e6);
}

TEST_F(CollectorTest, SolveJudgeNpcAndConverseRecords) {
  // Given a run directory of solve records (two agreed, one in unverified.jsonl), judge records,
  // an npc record and a conversation
  std::filesystem::create_directory(path("run"));
  auto solve = [](const std::string& agreement, bool verified) {
    Json j = {{"custom_id", "s"},     {"persona", "p"}, {"task", "solve"},
              {"problem", "1+1?"},    {"answer", "2"},  {"agreement", agreement},
              {"verified", verified}, {"attempts", 4}};
    if (verified) j["solution"] = "one plus one is two";
    j["samples"] = Json::array({{{"output", "it is two"}, {"answer", "2"}}});
    return j.dump() + "\n";
  };
  auto judge = [](int validity, int fit, int quality, double overall) {
    return Json{{"persona", "p"},
                {"task", "judge"},
                {"text", "a judged text"},
                {"scores", {{"validity", validity}, {"persona_fit", fit}, {"quality", quality}}},
                {"overall", overall}}
               .dump() +
           "\n";
  };
  Json npc = {{"persona", "q"},
              {"task", "npc"},
              {"output", "```json {...}```"},
              {"parsed", {{"name", "Mira"}, {"role", "smith"}, {"backstory", "forged swords"}}}};
  Json converse = {{"persona", "r"},
                   {"messages",
                    {{{"role", "user"}, {"content", "hello there"}},
                     {{"role", "assistant"}, {"content", "hi, how can I help"}},
                     {{"role", "user"}, {"content", "tell me more"}},
                     {{"role", "assistant"}, {"content", "gladly"}}}}};
  write_file(path("run/records-00000.jsonl"), solve("3/4", true) + solve("4/4", true) +
                                                  judge(8, 6, 7, 7.0) + judge(3, 5, 5, 4.33) +
                                                  npc.dump() + "\n" + converse.dump() + "\n");
  write_file(path("run/unverified.jsonl"), solve("2/4", false));
  write_file(path("run/below-threshold.jsonl"), judge(2, 2, 2, 2.0));

  // When the figures are collected
  Figures f = collect_figures(input_of({path("run")}));

  // Then solve's agreement counts the unverified line too
  EXPECT_EQ(f.run.records, 6u);
  EXPECT_EQ(f.run.unverified, 1u);
  ASSERT_TRUE(f.task.solve);
  EXPECT_EQ(f.task.solve->records, 3u);
  EXPECT_DOUBLE_EQ(f.task.solve->agreement_rate, 2.0 / 3);
  EXPECT_EQ(f.task.solve->votes, (NameCounts{{"2/4", 1}, {"3/4", 1}, {"4/4", 1}}));

  // And judge's scores are binned 1..10 per criterion and overall, the records set aside below
  // --min-score included (the histograms would otherwise stop at the threshold)
  ASSERT_TRUE(f.task.judge);
  EXPECT_EQ(f.run.below_threshold, 1u);
  EXPECT_EQ(f.task.judge->records, 3u);
  EXPECT_DOUBLE_EQ(f.task.judge->mean_overall.value(), (7.0 + 4.33 + 2.0) / 3);
  const Histogram& validity = f.task.judge->scores.at("validity");
  EXPECT_EQ(validity.edges.front(), 1);
  EXPECT_EQ(validity.edges.back(), 11);
  EXPECT_EQ(validity.counts, (std::vector<uint64_t>{0, 1, 1, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(f.task.judge->scores.at("overall").counts,
            (std::vector<uint64_t>{0, 1, 0, 1, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(f.task.judge->scores.count("persona_fit"), 1u);

  // And the npc's keys and name are counted, its text being the parsed strings
  ASSERT_EQ(f.task.names.size(), 1u);
  EXPECT_EQ(f.task.names[0].key, "Mira");
  EXPECT_DOUBLE_EQ(f.task.names[0].share, 1.0);
  EXPECT_EQ(f.task.keys.size(), 3u);
  EXPECT_EQ(f.run.tasks.at("npc"), 1u);

  // And the lengths: solutions 5 words, judged texts 3, npc 4 (mira smith forged swords), the
  // conversation's assistant turns 6
  EXPECT_EQ(f.words.min, 3);
  EXPECT_EQ(f.words.max, 6);
  EXPECT_DOUBLE_EQ(f.words.mean.value(), (5 + 5 + 3 + 3 + 4 + 6) / 6.0);
}

TEST_F(CollectorTest, SolveRecordsWrittenAsChatAreSolveRecords) {
  // Given a solve run written with --format chat, as synth writes it: the shard holds only the
  // messages of the lines whose answers agreed, unverified.jsonl the others in full, and the
  // manifest names the task
  auto chat = [](const std::string& problem, const std::string& solution) {
    return Json{{"messages",
                 {{{"role", "user"}, {"content", problem}},
                  {{"role", "assistant"}, {"content", solution}}}}}
               .dump() +
           "\n";
  };
  auto run_directory = [&](const std::string& dir, const std::string& task) {
    std::filesystem::create_directory(path(dir));
    write_file(path(dir + "/" + task + "-00000.jsonl"),
               chat("1+1?", "one and one make two") + chat("2+2?", "four"));
    write_file(path(dir + "/unverified.jsonl"),
               Json{{"problem", "3+3?"},
                    {"agreement", "2/4"},
                    {"verified", false},
                    {"samples", Json::array({{{"output", "six or so"}}})}}
                       .dump() +
                   "\n");
    Manifest manifest;
    manifest.config = {{"task", task}, {"format", "chat"}};
    write_manifest(path(dir + "/manifest.json"), manifest);
  };
  run_directory("solve", "solve");

  // When the figures are collected
  Figures f = collect_figures(input_of({path("solve")}));

  // Then the chat records are solve records whose answers agreed, with the unverified line
  EXPECT_EQ(f.run.records, 2u);
  ASSERT_TRUE(f.task.solve);
  EXPECT_EQ(f.task.solve->records, 3u);
  EXPECT_DOUBLE_EQ(f.task.solve->agreement_rate, 2.0 / 3);
  // Only the unverified line carries its votes
  EXPECT_EQ(f.task.solve->votes, (NameCounts{{"2/4", 1}}));
  // And their text is the solution, the assistant's turn
  EXPECT_EQ(f.words.max, 5);

  // And chat records of another task (respond) are not solve records
  run_directory("respond", "respond");
  std::filesystem::remove(path("respond/unverified.jsonl"));
  EXPECT_FALSE(collect_figures(input_of({path("respond")})).task.solve);
}

TEST_F(CollectorTest, PlainJsonlWithAFieldAndTheTextSample) {
  // Given plain JSONL whose text is "body", one line without it
  std::string content;
  for (int i = 0; i < 50; ++i)
    content +=
        Json{{"body", "text number " + std::to_string(i)}, {"persona", "p" + std::to_string(i)}}
            .dump() +
        "\n";
  content += "{\"output\": \"no body\"}\n";
  write_file(path("plain.jsonl"), content);

  // When it is read with --field body and a sample of 10
  ReportInput in = input_of({path("plain.jsonl")});
  in.field = "body";
  in.text_sample = 10;
  std::vector<TextPair> sample, again;
  Figures f = collect_figures(in, &sample);
  collect_figures(in, &again);

  // Then the 50 records are measured, and the sample is 10 of their pairs, the same each time
  EXPECT_EQ(f.field, "body");
  EXPECT_EQ(f.run.records, 50u);
  EXPECT_EQ(f.run.bad_lines, 1u);
  EXPECT_EQ(f.words.p50, 3);
  ASSERT_EQ(sample.size(), 10u);
  for (const TextPair& pair : sample)
    EXPECT_EQ(pair.output, "text number " + pair.persona.substr(1));
  ASSERT_EQ(again.size(), 10u);
  for (size_t i = 0; i < sample.size(); ++i) EXPECT_EQ(sample[i].output, again[i].output);
}

}  // namespace
}  // namespace personagen
