#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "dedup/dedup.h"
#include "dedup/text_normalize.h"
#include "report/collector.h"
#include "store/manifest.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

using Json = nlohmann::json;

// "u<i>w0 u<i>w1 ...": `words` words of a vocabulary of their own, the last `changed` of them
// replaced by others, so a copy with c of 20 words changed has Jaccard (20 - c) / (20 + c).
std::string text_of(int i, int words, int changed = 0) {
  std::string text;
  for (int k = 0; k < words; ++k) {
    if (k) text += ' ';
    text += "u" + std::to_string(i) + (k >= words - changed ? "x" : "w") + std::to_string(k);
  }
  return text;
}

std::string synth_line(const std::string& output, const std::string& persona,
                       const std::string& finish = "stop", int attempts = 1) {
  Json usage = {{"prompt_tokens", 10}, {"completion_tokens", 5}, {"total_tokens", 15}};
  return Json{{"custom_id", "c"}, {"persona", persona},  {"task", "math"},
              {"output", output}, {"parsed", nullptr},   {"finish_reason", finish},
              {"usage", usage},   {"attempts", attempts}}
             .dump() +
         "\n";
}

// The constructed dataset: 14 records whose figures are known.
//   0-9:  ten texts of disjoint words; texts 3-9 of 10, 15, ... 40 words, the others of 20
//   10:   text 0 again; 11: text 0 in other case and spacing (the same once normalized)
//   12:   text 1 with its last word changed (Jaccard 19/21 = 0.905)
//   13:   text 2 with its last three words changed (Jaccard 17/23 = 0.739)
// Personas p0..p4 in turn; records 4 and 12 end by "length"; records 2 and 5 took 2 attempts.
std::vector<std::string> dataset_texts() {
  std::vector<std::string> texts;
  for (int i = 0; i < 10; ++i) texts.push_back(text_of(i, i < 3 ? 20 : 10 + 5 * (i - 3)));
  texts.push_back(text_of(0, 20));
  std::string loud = text_of(0, 20);
  for (char& c : loud) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  texts.push_back("  " + loud + "\n");
  texts.push_back(text_of(1, 20, 1));
  texts.push_back(text_of(2, 20, 3));
  return texts;
}

std::string dataset() {
  std::string out;
  std::vector<std::string> texts = dataset_texts();
  for (size_t i = 0; i < texts.size(); ++i) {
    out += synth_line(texts[i], "p" + std::to_string(i % 5), i == 4 || i == 12 ? "length" : "stop",
                      i == 2 || i == 5 ? 2 : 1);
  }
  return out;
}

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

class CollectorTest : public TempDirTest {
 protected:
  ReportInput input_of(std::vector<std::string> inputs) {
    ReportInput in;
    in.inputs = std::move(inputs);
    return in;
  }
};

TEST_F(CollectorTest, GivesTheKnownFiguresOfAConstructedDataset) {
  // Given the constructed dataset followed by bad and blank lines
  write_file(path("data.jsonl"), dataset() + kBadLines);

  // When its figures are collected
  Figures f = collect_figures(input_of({path("data.jsonl")}));

  // Then the run's counts are those of the 14 records, the bad lines counted apart
  EXPECT_EQ(f.label, path("data.jsonl"));
  EXPECT_EQ(f.run.records, 14u);
  EXPECT_EQ(f.run.bad_lines, 5u);
  EXPECT_EQ(f.run.finish_reasons, (std::map<std::string, uint64_t>{{"length", 2}, {"stop", 12}}));
  EXPECT_EQ(f.run.attempts, (std::map<int, uint64_t>{{1, 12}, {2, 2}}));
  EXPECT_EQ(f.run.tasks, (std::map<std::string, uint64_t>{{"math", 14}}));
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
  EXPECT_DOUBLE_EQ(f.words.mean, 315.0 / 14);

  // And distinct-n is exact, as a plain count of n-grams gives it
  for (size_t n = 1; n <= 3; ++n) {
    const Estimate& d = f.diversity.distinct[n - 1];
    EXPECT_TRUE(d.exact);
    EXPECT_EQ(d.method, "exact");
    EXPECT_NEAR(d.value, distinct_n(dataset_texts(), n), 1e-12) << n;
  }

  // And the near duplicates: text 0's copies and text 1's close copy at 0.9, text 2's at 0.7 too
  EXPECT_TRUE(f.diversity.near_dup_90.exact);
  EXPECT_EQ(f.diversity.near_dup_90.method, "exact minhash");
  EXPECT_DOUBLE_EQ(f.diversity.near_dup_90.value, 3.0 / 14);
  EXPECT_DOUBLE_EQ(f.diversity.near_dup_70.value, 4.0 / 14);
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
  EXPECT_DOUBLE_EQ(f.diversity.outputs_per_persona, 14.0 / 5);
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
    const Estimate& rate = threshold == 0.9 ? f.diversity.near_dup_90 : f.diversity.near_dup_70;
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
  ASSERT_TRUE(all.diversity.near_dup_90.exact);
  const double truth = all.diversity.near_dup_90.value;
  ASSERT_GT(truth, 0.15);

  // When it is estimated on samples of at most 500 records, with ten seeds
  int within = 0;
  double sum = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    in.dup_sample = 500;
    in.seed = seed;
    Figures f = collect_figures(in);
    const Estimate& rate = f.diversity.near_dup_90;
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
  EXPECT_FALSE(f.diversity.near_dup_90.exact);
  EXPECT_NE(f.diversity.near_dup_90.method.find("estimate"), std::string::npos);
}

TEST_F(CollectorTest, ASampledRateOfZeroStillHasABound) {
  std::string lines;
  for (int i = 0; i < 400; ++i) lines += synth_line(text_of(i, 8), "p");
  write_file(path("distinct.jsonl"), lines);
  ReportInput in = input_of({path("distinct.jsonl")});
  in.dup_sample = 50;
  Figures f = collect_figures(in);
  EXPECT_EQ(f.diversity.near_dup_90.value, 0);
  EXPECT_FALSE(f.diversity.near_dup_90.exact);
  // The Wilson bound of 0 in n is about 3.8 / n, not 0
  EXPECT_GT(f.diversity.near_dup_90.error, 1.0 / static_cast<double>(f.diversity.dup_sample));
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
  EXPECT_EQ(gzipped.diversity.distinct[1].value, plain.diversity.distinct[1].value);
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
  EXPECT_EQ(f.task.solve->votes,
            (std::map<std::string, uint64_t>{{"2/4", 1}, {"3/4", 1}, {"4/4", 1}}));

  // And judge's scores are binned 1..10 per criterion and overall, the records set aside below
  // --min-score included (the histograms would otherwise stop at the threshold)
  ASSERT_TRUE(f.task.judge);
  EXPECT_EQ(f.run.below_threshold, 1u);
  EXPECT_EQ(f.task.judge->records, 3u);
  EXPECT_DOUBLE_EQ(f.task.judge->mean_overall, (7.0 + 4.33 + 2.0) / 3);
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
  EXPECT_DOUBLE_EQ(f.words.mean, (5 + 5 + 3 + 3 + 4 + 6) / 6.0);
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

TEST_F(CollectorTest, AnUnreadableInputIsAnErrorNamingIt) {
  std::string message = error_of([&] { collect_figures(input_of({path("missing.jsonl")})); });
  EXPECT_NE(message.find("missing.jsonl"), std::string::npos) << message;
}

}  // namespace
}  // namespace personagen
