#include "report/collector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

#include "dedup/dedup_files.h"
#include "dedup/minhash.h"
#include "dedup/text_normalize.h"
#include "input/input_files.h"
#include "report/near_dups.h"
#include "report/record_view.h"
#include "report/sketches.h"
#include "store/manifest.h"
#include "store/side_file.h"
#include "util/cost.h"
#include "util/hash.h"

namespace personagen {
namespace {

constexpr size_t kTopEntries = 20;
constexpr size_t kOpeningWords = 4;
constexpr size_t kLengthBins = 20;
// MinHash for the near-duplicate rate: 64 permutations estimate a Jaccard similarity within about
// 0.04 at 0.9, and the confirmation is exact for texts of at most 64 distinct words.
constexpr size_t kNumPerm = 64;
constexpr double kNearDupThresholds[] = {0.9, 0.7};
constexpr int kScoreBins = 10;  // judge scores 1..10
// A line longer than this is not a record (the other commands' reader has the same limit), and
// no more of it is held.
constexpr size_t kMaxLineBytes = size_t{8} << 20;
// Values counted by name (tasks, finish reasons, votes, judge criteria) come from the data: past
// this many distinct ones, the rest are counted together as "(other)", so that a field with a
// new value on every line cannot grow the report without bound.
constexpr size_t kMaxKeys = 64;

// Allocates only for a name not yet counted.
void count_key(NameCounts& counts, std::string_view key) {
  if (auto it = counts.find(key); it != counts.end()) {
    ++it->second;
  } else {
    ++counts[counts.size() < kMaxKeys ? std::string(key) : std::string("(other)")];
  }
}

// The hash of an n-gram from its words' hashes: the n-gram so far mixed, plus the next word,
// mixed again, so n-grams of different words (or of the same words in another order) differ.
uint64_t extend_gram(uint64_t gram, uint64_t word) {
  uint64_t state = splitmix64(gram) + word;
  return splitmix64(state);
}

// A count as a figure: `distinct` over `all`, scaled with its error; undefined when all is 0.
std::optional<Estimate> share_of(const Estimate& distinct, uint64_t all) {
  if (all == 0) return std::nullopt;
  Estimate e = distinct;
  const double n = static_cast<double>(all);
  e.value = distinct.value / n;
  e.error = distinct.error / n;
  return e;
}

// The task that manifest.json says wrote a run directory; empty when it does not say.
std::string_view task_of(const Manifest& manifest) {
  for (const auto& [name, value] : manifest.config)
    if (name == "task") return value;
  return {};
}

Histogram score_histogram(const std::array<uint64_t, kScoreBins>& counts) {
  Histogram h;
  for (int i = 0; i <= kScoreBins; ++i) h.edges.push_back(1 + i);
  h.counts.assign(counts.begin(), counts.end());
  return h;
}

// Every figure's running state over one dataset's records.
class Collector {
 public:
  // Keeps a sample of up to input.text_sample (persona, output) pairs only if `sampling`.
  Collector(const ReportInput& input, bool sampling)
      : input_(input),
        parser_(input.field, input.persona_field),
        hasher_(kNumPerm, input.seed),
        near_dups_(hasher_, {std::begin(kNearDupThresholds), std::end(kNearDupThresholds)},
                   input.dup_sample, input.seed),
        sample_(sampling ? input.text_sample : 0, input.seed) {}

  // `file` is a shard of a solve run (by its directory's manifest.json): see read_records.
  void add_solve_shard(std::string file) { solve_shards_.insert(std::move(file)); }

  // Reads every line of `files`, one after another.
  void read_records(const std::vector<std::string>& files) {
    RawLineReader reader(files);
    reader.limit_line(kMaxLineBytes);
    std::string path;
    uint64_t number = 0;
    bool solve_shard = false;
    while (reader.next(&line_)) {
      if (reader.path() != path) {
        path = reader.path(), number = 0;
        solve_shard = solve_shards_.contains(path);
      }
      ++number;
      if (line_.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank
      if (reader.cut() || !parser_.parse(line_, view_) || !view_.has_text) {
        if (run_.bad_lines++ == 0)
          spdlog::warn("{}:{}: {}; such lines are counted as bad_lines, not records", path, number,
                       reader.cut() ? "a line of over 8 MiB"
                                    : "not a JSON object with a text in \"" + input_.field + "\"");
        continue;
      }
      // A solve run written with --format chat keeps only the messages of the lines whose
      // answers agreed (the others go to unverified.jsonl in full): each is a solve record.
      if (solve_shard && !view_.solve) view_.solve = view_.verified = true;
      add_record();
    }
  }

  // The side files and `manifest` (its manifest.json, if it has one) of an output directory.
  void read_run_directory(const std::filesystem::path& dir,
                          const std::optional<Manifest>& manifest) {
    for (const SideFileInfo& side : kSideFiles) {
      const std::filesystem::path path = dir / side.file_name;
      if (!std::filesystem::exists(path)) continue;
      // unverified.jsonl holds solve records whose answers did not agree: they count in the
      // agreement rate, since the shards hold only the ones that agreed; below-threshold.jsonl
      // holds judged records under --min-score, which count in the score histograms.
      const bool records =
          side.file == SideFile::unverified || side.file == SideFile::below_threshold;
      uint64_t lines = 0;
      RawLineReader reader({path.string()});
      reader.limit_line(kMaxLineBytes);
      while (reader.next(&line_)) {
        if (line_.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank
        ++lines;
        if (!records || reader.cut() || !parser_.parse(line_, view_)) continue;
        if (view_.solve) add_solve();
        if (view_.judge) add_judge();
      }
      side_lines_[side_index(side.file)] += lines;
    }
    if (manifest) {
      const Totals& t = manifest->checkpoint.totals;
      billed_prompt_ += t.billed_prompt_tokens;
      billed_completion_ += t.billed_completion_tokens;
      billed_known_ = billed_known_ || t.billed_prompt_tokens > 0 || t.billed_completion_tokens > 0;
    }
  }

  Figures finish(std::vector<TextPair>* sample);

 private:
  void add_record();
  void measure_text();
  void add_solve();
  void add_judge();

  const ReportInput& input_;
  std::set<std::string, std::less<>> solve_shards_;
  RecordParser parser_;
  std::string line_;
  RecordView view_;
  RunFigures run_;
  std::array<uint64_t, kSideFileCount> side_lines_{};
  uint64_t billed_prompt_ = 0, billed_completion_ = 0;
  bool billed_known_ = false;

  // Text figures.
  std::string normalized_;
  std::vector<std::string_view> words_;
  std::vector<uint64_t> word_hashes_;
  std::vector<uint32_t> shingles_;
  std::vector<uint32_t> signature_;
  ValueCounts lengths_;
  std::array<DistinctCounter, 3> grams_;
  std::array<uint64_t, 3> all_grams_{};
  std::string opening_;
  TopCounter openings_;
  DistinctCounter personas_;
  uint64_t with_persona_ = 0;
  MinHasher hasher_;
  NearDupSampler near_dups_;
  Reservoir<TextPair> sample_;

  // Task figures.
  uint64_t structured_ = 0;
  TopCounter keys_, names_;
  SolveFigures solve_;
  uint64_t agreed_ = 0;
  uint64_t judged_ = 0;
  std::map<std::string, std::array<uint64_t, kScoreBins>, std::less<>> scores_;
  double overall_sum_ = 0;
  uint64_t overall_count_ = 0;
};

void Collector::add_record() {
  const RecordView& v = view_;
  ++run_.records;
  if (!v.finish_reason.empty()) count_key(run_.finish_reasons, v.finish_reason);
  // Attempts are few; a corrupt count is clamped so that the map stays small.
  if (v.attempts) ++run_.attempts[static_cast<int>(std::clamp<int64_t>(*v.attempts, 0, 100))];
  if (!v.task.empty()) count_key(run_.tasks, v.task);
  run_.prompt_tokens += v.prompt_tokens;
  run_.completion_tokens += v.completion_tokens;
  if (v.structured) {
    ++structured_;
    for (std::string_view key : v.keys) keys_.add(key);
    for (std::string_view name : v.names) names_.add(name);
  }
  if (v.solve) add_solve();
  if (v.judge) add_judge();
  measure_text();
  if (size_t slot = 0; sample_.offer(slot)) {
    TextPair& pair = sample_.at(slot);
    pair.persona.assign(v.persona);
    pair.output.assign(v.text);
  }
}

void Collector::measure_text() {
  normalize_text(view_.text, normalized_);
  split_words(normalized_, words_);
  lengths_.add(words_.size());

  word_hashes_.clear();
  for (std::string_view word : words_) word_hashes_.push_back(hash64(word));
  for (size_t n = 1; n <= 3; ++n) {
    if (words_.size() < n) break;
    all_grams_[n - 1] += words_.size() - n + 1;
    for (size_t i = 0; i + n <= words_.size(); ++i) {
      uint64_t gram = word_hashes_[i];
      for (size_t k = 1; k < n; ++k) gram = extend_gram(gram, word_hashes_[i + k]);
      grams_[n - 1].add(gram);
    }
  }

  if (!words_.empty()) {
    opening_.clear();
    for (size_t i = 0; i < std::min(kOpeningWords, words_.size()); ++i) {
      if (i) opening_ += ' ';
      opening_ += words_[i];
    }
    openings_.add(opening_);
  }
  if (view_.has_persona) {
    personas_.add(hash64(view_.persona));
    ++with_persona_;
  }

  shingle_text(normalized_, 1, shingles_);
  signature_.resize(kNumPerm);
  hasher_.signature(shingles_, signature_.data());
  near_dups_.add(run_.records - 1, shingles_, signature_);
}

void Collector::add_solve() {
  ++solve_.records;
  agreed_ += view_.verified;
  if (!view_.agreement.empty()) count_key(solve_.votes, view_.agreement);
}

void Collector::add_judge() {
  ++judged_;
  auto bin = [](double score) {
    return static_cast<size_t>(std::clamp(std::floor(score), 1.0, double{kScoreBins}) - 1);
  };
  for (const auto& [criterion, score] : view_.scores) {
    auto it = scores_.find(criterion);
    if (it == scores_.end()) {
      if (scores_.size() >= kMaxKeys) continue;  // criteria come from the data: a bounded few
      it = scores_.emplace(std::string(criterion), std::array<uint64_t, kScoreBins>{}).first;
    }
    ++it->second[bin(score)];
  }
  if (view_.overall) {
    auto [it, fresh] = scores_.try_emplace("overall");
    if (fresh) it->second.fill(0);
    ++it->second[bin(*view_.overall)];
    overall_sum_ += *view_.overall;
    ++overall_count_;
  }
}

Figures Collector::finish(std::vector<TextPair>* sample) {
  Figures f;
  f.label = input_.label.empty() ? join_inputs(input_.inputs) : input_.label;
  f.field = input_.field;

  f.run = run_;
  f.run.failures = side_lines_[side_index(SideFile::failures)];
  f.run.rejects = side_lines_[side_index(SideFile::rejects)];
  f.run.unverified = side_lines_[side_index(SideFile::unverified)];
  f.run.below_threshold = side_lines_[side_index(SideFile::below_threshold)];
  if (billed_known_) {
    f.run.billed_prompt_tokens = billed_prompt_;
    f.run.billed_completion_tokens = billed_completion_;
  }
  f.run.cost_usd =
      billed_known_
          ? cost_of(billed_prompt_, billed_completion_, input_.price_in, input_.price_out)
          : cost_of(run_.prompt_tokens, run_.completion_tokens, input_.price_in, input_.price_out);

  f.words = lengths_.summary(kLengthBins);

  DiversityFigures& d = f.diversity;
  for (size_t n = 0; n < 3; ++n) d.distinct[n] = share_of(grams_[n].count(), all_grams_[n]);
  d.dup_sample = near_dups_.sampled();
  d.openings = openings_.top(kTopEntries, run_.records);
  d.personas = personas_.count();
  if (run_.records > 0) {
    d.near_dup_90 = near_dups_.rate(0);
    d.near_dup_70 = near_dups_.rate(1);
  }
  if (d.personas.value > 0)
    d.outputs_per_persona = static_cast<double>(with_persona_) / d.personas.value;

  TaskFigures& t = f.task;
  t.keys = keys_.top(kTopEntries, structured_);
  t.names = names_.top(kTopEntries, structured_);
  if (solve_.records) {
    t.solve = solve_;
    t.solve->agreement_rate = static_cast<double>(agreed_) / static_cast<double>(solve_.records);
  }
  if (judged_) {
    JudgeFigures& j = t.judge.emplace();
    j.records = judged_;
    for (const auto& [criterion, counts] : scores_) j.scores[criterion] = score_histogram(counts);
    if (overall_count_) j.mean_overall = overall_sum_ / static_cast<double>(overall_count_);
  }
  if (sample) *sample = std::move(sample_.items());
  return f;
}

}  // namespace

Figures collect_figures(const ReportInput& input, std::vector<TextPair>* sample) {
  Collector collector(input, sample != nullptr);
  // The run directories' manifests first: a manifest's task says what the shards' records are
  // when they do not say it themselves.
  std::vector<std::pair<std::string, std::optional<Manifest>>> runs;
  for (const std::string& in : input.inputs) {
    std::error_code error;
    if (!std::filesystem::is_directory(in, error)) continue;
    const auto& [dir, manifest] = runs.emplace_back(
        in, read_manifest((std::filesystem::path(in) / "manifest.json").string()));
    if (manifest && task_of(*manifest) == "solve")
      for (std::string& shard : expand_inputs({dir})) collector.add_solve_shard(std::move(shard));
  }
  collector.read_records(expand_inputs(input.inputs));
  for (const auto& [dir, manifest] : runs) collector.read_run_directory(dir, manifest);
  return collector.finish(sample);
}

}  // namespace personagen
