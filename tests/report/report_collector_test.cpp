#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "collector_records.h"
#include "dedup/dedup.h"
#include "dedup/text_normalize.h"
#include "report/collector.h"
#include "report/report_format.h"
#include "report/report_writers.h"

namespace personagen {
namespace {

using Json = nlohmann::json;
using collector_test::CollectorTest;
using collector_test::dataset;
using collector_test::dataset_texts;
using collector_test::synth_line;
using collector_test::text_of;

// Lines that are not records: not JSON, not an object, no output, an output of no text.
const char* kBadLines =
    "not json\n[1, 2]\n{\"persona\": \"x\"}\n{\"output\": 5}\n{\"output\": null}\n\n   \n";

// distinct-n of the texts, counted the plain way: every n-gram as a string in a set.
double distinct_n(const std::vector<std::string>& texts, size_t n) {
  std::set<std::string> unique;
  uint64_t all = 0;
  for (const std::string& text : texts) {
    std::string normalized = normalize_text(text);
    std::vector<std::string_view> words;
    split_words(normalized, words);
    for (size_t i = 0; i + n <= words.size(); ++i, ++all) {
      std::string gram;
      for (size_t k = 0; k < n; ++k) gram += std::string(words[i + k]) + " ";
      unique.insert(gram);
    }
  }
  return static_cast<double>(unique.size()) / static_cast<double>(all);
}

TEST_F(CollectorTest, GivesTheKnownFiguresOfAConstructedDataset) {
  // Given the constructed dataset followed by bad and blank lines
  write_file(path("data.jsonl"), dataset() + kBadLines);

  // When its figures are collected
  Figures f = collect_figures(input_of({path("data.jsonl")}));

  // Then the run's counts are those of the 14 records, the bad lines counted apart
  EXPECT_EQ(f.label, path("data.jsonl"));
  EXPECT_EQ(f.run.records, 14u);
  EXPECT_EQ(f.run.bad_lines, 5u);
  EXPECT_EQ(f.run.finish_reasons, (NameCounts{{"length", 2}, {"stop", 12}}));
  EXPECT_EQ(f.run.attempts, (std::map<int, uint64_t>{{1, 12}, {2, 2}}));
  EXPECT_EQ(f.run.tasks, (NameCounts{{"math", 14}}));
  EXPECT_EQ(f.run.prompt_tokens, 140u);
  EXPECT_EQ(f.run.completion_tokens, 70u);
  EXPECT_FALSE(f.run.billed_prompt_tokens);
  EXPECT_FALSE(f.run.cost_usd);  // no prices

  // And the lengths: 10, 15, eight of 20, 25, 30, 35, 40 words
  EXPECT_EQ(f.words.count, 14u);
  EXPECT_EQ(f.words.min, 10);
  EXPECT_EQ(f.words.p10, 15);
  EXPECT_EQ(f.words.p50, 20);
  EXPECT_EQ(f.words.p90, 35);
  EXPECT_EQ(f.words.p99, 40);
  EXPECT_EQ(f.words.max, 40);
  EXPECT_DOUBLE_EQ(f.words.mean.value(), 315.0 / 14);

  // And distinct-n is exact, as a plain count of n-grams gives it
  for (size_t n = 1; n <= 3; ++n) {
    ASSERT_TRUE(f.diversity.distinct[n - 1]);
    const Estimate& d = *f.diversity.distinct[n - 1];
    EXPECT_TRUE(d.exact);
    EXPECT_EQ(d.method, "exact");
    EXPECT_NEAR(d.value, distinct_n(dataset_texts(), n), 1e-12) << n;
  }

  // And the near duplicates: text 0's copies and text 1's close copy at 0.9, text 2's at 0.7 too
  EXPECT_TRUE(f.diversity.near_dup_90->exact);
  EXPECT_EQ(f.diversity.near_dup_90->method, "exact minhash");
  EXPECT_DOUBLE_EQ(f.diversity.near_dup_90->value, 3.0 / 14);
  EXPECT_DOUBLE_EQ(f.diversity.near_dup_70->value, 4.0 / 14);
  EXPECT_EQ(f.diversity.dup_sample, 14u);

  // And the openings: text 0's three times, texts 1 and 2 twice, exactly
  ASSERT_EQ(f.diversity.openings.size(), 10u);
  EXPECT_EQ(f.diversity.openings[0].key, "u0w0 u0w1 u0w2 u0w3");
  EXPECT_EQ(f.diversity.openings[0].count, 3u);
  EXPECT_DOUBLE_EQ(f.diversity.openings[0].share, 3.0 / 14);
  EXPECT_EQ(f.diversity.openings[1].key, "u1w0 u1w1 u1w2 u1w3");
  EXPECT_EQ(f.diversity.openings[2].count, 2u);
  EXPECT_EQ(f.diversity.openings[3].count, 1u);
  for (const TopEntry& e : f.diversity.openings) EXPECT_EQ(e.error, 0u);

  // And the personas: five, 2.8 records each
  EXPECT_EQ(f.diversity.personas.value, 5);
  EXPECT_TRUE(f.diversity.personas.exact);
  EXPECT_DOUBLE_EQ(f.diversity.outputs_per_persona.value(), 14.0 / 5);
  EXPECT_FALSE(f.task.solve);
  EXPECT_FALSE(f.task.judge);
}

TEST_F(CollectorTest, NearDuplicateRateIsDedupsWhenEveryRecordFits) {
  // Given the constructed dataset
  write_file(path("data.jsonl"), dataset());
  Figures f = collect_figures(input_of({path("data.jsonl")}));

  // When dedup runs on it at 0.9 and at 0.7
  for (double threshold : {0.9, 0.7}) {
    DedupOptions o;
    o.inputs = {path("data.jsonl")};
    o.output = path("kept.jsonl");
    o.field = "output";
    o.num_perm = 64;
    o.threshold = threshold;
    DedupStats stats = run_dedup(o);

    // Then the report's rate is the share of records dedup drops
    const double dropped = static_cast<double>(stats.exact_dropped + stats.near_dropped);
    const Estimate& rate = *(threshold == 0.9 ? f.diversity.near_dup_90 : f.diversity.near_dup_70);
    EXPECT_DOUBLE_EQ(rate.value, dropped / static_cast<double>(stats.read)) << threshold;
  }
}

// 5,000 records of 20 random words from a large vocabulary; about 30% repeat an earlier record,
// exactly or with one word changed.
std::string many_records(uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<std::string> texts;
  std::string out;
  for (int i = 0; i < 5000; ++i) {
    std::string text;
    if (!texts.empty() && random() % 10 < 3) {
      text = texts[random() % texts.size()];
      if (random() % 2) text += " extra" + std::to_string(random() % 1000);
    } else {
      for (int k = 0; k < 20; ++k) text += "v" + std::to_string(random() % 100000) + " ";
    }
    texts.push_back(text);
    out += synth_line(text, "p");
  }
  return out;
}

TEST_F(CollectorTest, SampledNearDuplicateRateIsWithinItsBound) {
  // Given 5,000 records, and their near-duplicate rate measured on all of them
  write_file(path("many.jsonl"), many_records(7));
  ReportInput in = input_of({path("many.jsonl")});
  in.dup_sample = 5000;  // every record
  Figures all = collect_figures(in);
  ASSERT_TRUE(all.diversity.near_dup_90->exact);
  const double truth = all.diversity.near_dup_90->value;
  ASSERT_GT(truth, 0.15);

  // When it is estimated on samples of at most 500 records, with ten seeds
  int within = 0;
  double sum = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    in.dup_sample = 500;
    in.seed = seed;
    Figures f = collect_figures(in);
    const Estimate& rate = *f.diversity.near_dup_90;
    EXPECT_FALSE(rate.exact);
    EXPECT_EQ(rate.method, "minhash sample (Wilson bound)");
    EXPECT_LE(f.diversity.dup_sample, 500u);
    EXPECT_GT(f.diversity.dup_sample, 250u);
    // The Wilson bound: a little wider than the normal one, never 0
    const double n = static_cast<double>(f.diversity.dup_sample);
    EXPECT_GE(rate.error, 1.96 * std::sqrt(rate.value * (1 - rate.value) / n) - 1e-12);
    EXPECT_LE(rate.error, 1.96 * std::sqrt(rate.value * (1 - rate.value) / n) + 4 / n);
    within += std::abs(rate.value - truth) <= rate.error;
    sum += rate.value;
  }

  // Then the 95% bound holds for (nearly) every seed, and the estimates centre on the truth
  EXPECT_GE(within, 8);
  EXPECT_NEAR(sum / 10, truth, 0.03);
}

TEST_F(CollectorTest, DataKeyedCountsLongLinesAndLongTextsStayBoundedAndHonest) {
  // Given 300 records each with a task and finish reason of its own, a line of over 8 MiB, and
  // pairs of texts too long for an exact comparison
  std::string lines;
  for (int i = 0; i < 300; ++i) {
    Json record = Json::parse(synth_line(text_of(i, 5), "p", "reason" + std::to_string(i)));
    record["task"] = "task" + std::to_string(i);
    lines += record.dump() + "\n";
  }
  lines += synth_line(std::string(9 << 20, 'a'), "p");
  for (int i = 0; i < 4; ++i) lines += synth_line(text_of(1000, 120), "p");
  write_file(path("wide.jsonl"), lines);
  Figures f = collect_figures(input_of({path("wide.jsonl")}));

  // Then the named counts keep at most 64 names and count the rest as "(other)"
  EXPECT_LE(f.run.tasks.size(), 65u);
  EXPECT_LE(f.run.finish_reasons.size(), 65u);
  EXPECT_EQ(f.run.tasks.at("(other)"), 300u - 64 + 4);
  uint64_t total = 0;
  for (const auto& [task, n] : f.run.tasks) total += n;
  EXPECT_EQ(total, 304u);
  // And the long line is a bad line, not a record
  EXPECT_EQ(f.run.records, 304u);
  EXPECT_EQ(f.run.bad_lines, 1u);
  // And a rate over texts compared by their signature's estimate does not claim to be exact
  EXPECT_FALSE(f.diversity.near_dup_90->exact);
  EXPECT_NE(f.diversity.near_dup_90->method.find("estimate"), std::string::npos);
}

TEST_F(CollectorTest, ASampledRateOfZeroStillHasABound) {
  std::string lines;
  for (int i = 0; i < 400; ++i) lines += synth_line(text_of(i, 8), "p");
  write_file(path("distinct.jsonl"), lines);
  ReportInput in = input_of({path("distinct.jsonl")});
  in.dup_sample = 50;
  Figures f = collect_figures(in);
  EXPECT_EQ(f.diversity.near_dup_90->value, 0);
  EXPECT_FALSE(f.diversity.near_dup_90->exact);
  // The Wilson bound of 0 in n is about 3.8 / n, not 0
  EXPECT_GT(f.diversity.near_dup_90->error, 1.0 / static_cast<double>(f.diversity.dup_sample));
}

TEST_F(CollectorTest, ReadsGzipInputLikePlain) {
  // Given the dataset gzipped
  const std::string content = dataset() + kBadLines;
  gzFile gz = gzopen(path("data.jsonl.gz").c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  gzwrite(gz, content.data(), static_cast<unsigned>(content.size()));
  gzclose(gz);
  write_file(path("data.jsonl"), content);

  // Then it gives the figures of the plain file
  Figures gzipped = collect_figures(input_of({path("data.jsonl.gz")}));
  Figures plain = collect_figures(input_of({path("data.jsonl")}));
  EXPECT_EQ(gzipped.run.records, 14u);
  EXPECT_EQ(gzipped.run.bad_lines, 5u);
  EXPECT_EQ(gzipped.words.histogram.counts, plain.words.histogram.counts);
  EXPECT_EQ(gzipped.diversity.distinct[1]->value, plain.diversity.distinct[1]->value);
}

TEST_F(CollectorTest, UndefinedFiguresAreNullNotZero) {
  // Given an empty input, and judge records of which none has an overall score
  write_file(path("empty.jsonl"), "");
  write_file(path("judged.jsonl"),
             "{\"text\": \"a judged text\", \"scores\": {\"validity\": 7}}\n");
  const Figures empty = collect_figures(input_of({path("empty.jsonl")}));
  const Figures judged = collect_figures(input_of({path("judged.jsonl")}));

  // Then a mean, percentile or share of nothing is undefined, not 0
  EXPECT_EQ(empty.words.count, 0u);
  for (const auto& figure : {empty.words.mean, empty.words.min, empty.words.p10, empty.words.p50,
                             empty.words.p90, empty.words.p99, empty.words.max})
    EXPECT_FALSE(figure);
  for (const auto& distinct : empty.diversity.distinct) EXPECT_FALSE(distinct);
  EXPECT_FALSE(empty.diversity.near_dup_90);
  EXPECT_FALSE(empty.diversity.outputs_per_persona);
  ASSERT_TRUE(judged.task.judge);
  EXPECT_FALSE(judged.task.judge->mean_overall);
  // But distinct-3 of three words is defined where distinct-1 is: only its n-grams are missing
  EXPECT_TRUE(judged.diversity.distinct[2]);
  EXPECT_FALSE(judged.diversity.outputs_per_persona) << "no record has a persona";

  // And the JSON has null for them, the terminal "-"
  const Json report = Json::parse(report_json(std::vector<Figures>{empty, judged}));
  const Json& none = report["datasets"][0];
  for (const char* key : {"mean", "min", "p10", "p50", "p90", "p99", "max"})
    EXPECT_TRUE(none["length"][key].is_null()) << key;
  for (const char* key : {"distinct_1", "distinct_2", "distinct_3", "near_dup_90", "near_dup_70",
                          "outputs_per_persona"})
    EXPECT_TRUE(none["diversity"][key].is_null()) << key;
  EXPECT_TRUE(report["datasets"][1]["task"]["judge"]["mean_overall"].is_null());
  std::ostringstream text;
  write_report_text(text, std::vector<Figures>{empty});
  std::istringstream lines(text.str());
  bool dash = false;
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with("  mean ")) dash = line.ends_with(" -");
  EXPECT_TRUE(dash) << text.str();
}

TEST_F(CollectorTest, AnUnreadableInputIsAnErrorNamingIt) {
  std::string message = error_of([&] { collect_figures(input_of({path("missing.jsonl")})); });
  EXPECT_NE(message.find("missing.jsonl"), std::string::npos) << message;
}

}  // namespace
}  // namespace personagen
