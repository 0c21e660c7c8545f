#pragma once

// Figures built by hand for the report writers' tests, so that they need no collector: every
// field set, estimates among them, and text that must be escaped where asked.

#include <string>
#include <vector>

#include "report/figures.h"

namespace personagen::report_test {

inline Estimate estimate(double value, double error, std::string method) {
  return Estimate{value, error, false, std::move(method)};
}

inline Estimate exact(double value) {
  return Estimate{value, 0, true, "exact"};
}

inline Histogram histogram(double start, double width, std::vector<uint64_t> counts) {
  Histogram h;
  for (size_t i = 0; i <= counts.size(); ++i) h.edges.push_back(start + width * i);
  h.counts = std::move(counts);
  return h;
}

// A math-like dataset of `records` records with every figure set; `scale` shifts the figures so
// that two datasets differ.
inline Figures full_figures(std::string label, uint64_t records = 12345, double scale = 1) {
  Figures f;
  f.label = std::move(label);
  f.run.records = records;
  f.run.failures = 12;
  f.run.rejects = 3;
  f.run.unverified = 4;
  f.run.below_threshold = 5;
  f.run.bad_lines = 1;
  f.run.finish_reasons = {{"stop", records - records / 100}, {"length", records / 100}};
  f.run.attempts = {
      {1, records - records / 10}, {2, records / 10 - records / 50}, {3, records / 50}};
  f.run.tasks = {{"math", records}};
  f.run.prompt_tokens = 1851000;
  f.run.completion_tokens = 2469000;
  f.run.billed_prompt_tokens = 1900000;
  f.run.billed_completion_tokens = 2500000;
  f.run.cost_usd = 12.345;
  f.words.count = records;
  f.words.mean = 74.25 * scale;
  f.words.min = 3;
  f.words.p10 = 41;
  f.words.p50 = 70 * scale;
  f.words.p90 = 112;
  f.words.p99 = 160;
  f.words.max = 203;
  f.words.histogram = histogram(0, 10, {3,   40, 95, 300, 900, 2400, 3600, 2600, 1400, 600, 250,
                                        120, 60, 30, 20,  10,  5,    3,    1,    1,    0});
  f.diversity.distinct[0] = exact(0.112);
  f.diversity.distinct[1] = estimate(0.812 * scale, 0.006, "hyperloglog p=14");
  f.diversity.distinct[2] = estimate(0.931, 0.007, "hyperloglog p=14");
  f.diversity.near_dup_90 = estimate(0.021, 0.004, "minhash sample 20000");
  f.diversity.near_dup_70 = estimate(0.064, 0.006, "minhash sample 20000");
  f.diversity.dup_sample = 10000;
  f.diversity.openings = {
      {"math problem: a farmer", 512, 0.0415, 0}, {"a local bakery sells", 301, 0.0244, 0},
      {"in a small town", 122, 0.0099, 2},        {"consider a sequence of", 98, 0.0079, 0},
      {"a nurse who works", 77, 0.0062, 0},       {"the school's garden has", 60, 0.0049, 0}};
  f.diversity.personas = estimate(9876, 120, "hyperloglog p=14");
  f.diversity.outputs_per_persona = 1.25;
  f.task.solve = SolveFigures{records, 0.874, {{"4/4", 9000}, {"3/4", 1800}, {"2/4", 1545}}};
  JudgeFigures judge;
  judge.records = records;
  judge.mean_overall = 4.12;
  for (const char* criterion : {"validity", "persona_fit", "quality", "overall"}) {
    judge.scores[criterion] = histogram(1, 1, {100, 400, 1900, 6200, 3745});
  }
  f.task.judge = judge;
  f.task.names = {{"Captain Mira", 40, 0.2, 0}, {"Old Tom", 20, 0.1, 0}};
  f.task.keys = {{"name", 200, 1.0, 0}, {"description", 198, 0.99, 0}};
  SimilarityFigures s;
  s.model = "text-embedding-3-small";
  s.sample = 2000;
  s.pairs = 50000;
  s.mean_pairwise_cosine = 0.312;
  for (int i = 0; i < 5; ++i) {
    s.bins.push_back(SimilarityBin{0.2 * i, 0.2 * (i + 1), static_cast<uint64_t>(1000 * (i + 1)),
                                   0.2 + 0.1 * i * scale});
  }
  f.similarity = s;
  return f;
}

// A dataset as plain JSONL gives it: no manifest, no task figures, no similarity.
inline Figures plain_figures(std::string label) {
  Figures f = full_figures(std::move(label), 20, 1);
  f.run.billed_prompt_tokens.reset();
  f.run.billed_completion_tokens.reset();
  f.run.cost_usd.reset();
  f.task = TaskFigures{};
  f.similarity.reset();
  return f;
}

// `n` datasets to compare, nightly/2026-12-01 on, each a little different.
inline std::vector<Figures> compared_figures(int n) {
  std::vector<Figures> datasets;
  for (int d = 0; d < n; ++d) {
    datasets.push_back(full_figures("nightly/2026-12-0" + std::to_string(d + 1),
                                    12345 + 1000 * static_cast<uint64_t>(d), 1 + 0.1 * d));
  }
  return datasets;
}

}  // namespace personagen::report_test
