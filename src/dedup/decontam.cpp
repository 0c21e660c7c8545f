#include "dedup/decontam.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dedup/dedup_files.h"
#include "dedup/text_normalize.h"
#include "input/record_reader.h"
#include "personagen/error.h"
#include "util/hash.h"
#include "util/json_text.h"

namespace personagen {
namespace {

void validate(const DecontamOptions& o) {
  if (o.inputs.empty()) throw usage_error("decontam: --input is required (a JSONL file, or -)");
  if (o.output.empty()) throw usage_error("decontam: --output is required (a JSONL file, or -)");
  if (o.against.empty()) {
    throw usage_error("decontam: --against is required (a benchmark's test set, JSONL)");
  }
  if (o.field.empty()) throw usage_error("decontam: --field must name a field");
  if (o.against_fields.empty()) throw usage_error("decontam: --against-field must name a field");
  if (o.ngram < 1) throw usage_error("decontam: --ngram must be at least 1");
  if (!o.report.empty() && o.report == o.output) {
    throw usage_error("decontam: --report and --output must be different files");
  }
  for (const std::string& test : o.against) {
    if (test == "-") throw usage_error("decontam: --against must be a file, not -");
  }
}

// The n-grams of one text, as hashes of their words' hashes: words are hashed once each, so a
// text of W words costs W + (W - n + 1) short hashes, not W x n bytes of joined words.
class NgramHasher {
 public:
  explicit NgramHasher(size_t n) : n_(n) {}

  // Reads `text`; afterwards count() n-grams are available, the k-th as hash(k) and words(k).
  void read(std::string_view text) {
    normalize_text(text, normalized_);
    split_words(normalized_, words_);
    word_hashes_.resize(words_.size());
    for (size_t i = 0; i < words_.size(); ++i) word_hashes_[i] = hash64(words_[i]);
  }
  size_t word_count() const { return words_.size(); }
  size_t count() const { return words_.size() < n_ ? 0 : words_.size() - n_ + 1; }
  uint64_t hash(size_t k) const {
    std::span<const uint64_t> gram(word_hashes_.data() + k, n_);
    return hash64(std::string_view(reinterpret_cast<const char*>(gram.data()), gram.size_bytes()));
  }
  std::string words(size_t k) const {
    std::string out;
    for (size_t i = k; i < k + n_; ++i) {
      if (i > k) out += ' ';
      out += words_[i];
    }
    return out;
  }

 private:
  size_t n_;
  std::string normalized_;
  std::vector<std::string_view> words_;
  std::vector<uint64_t> word_hashes_;
};

// Every n-gram of the test sets, with the first test-set line it came from.
struct TestIndex {
  std::vector<std::string> sources;               // "file:line"
  std::unordered_map<uint64_t, uint32_t> ngrams;  // n-gram hash -> index into sources
};

TestIndex read_test_sets(const DecontamOptions& options, DecontamStats& stats) {
  TestIndex index;
  NgramHasher hasher(options.ngram);
  ReaderOptions reader_options;
  reader_options.persona_fields = options.against_fields;
  reader_options.optional_fields = options.against_fields;
  for (const std::string& path : options.against) {
    RecordReader reader(path, reader_options);
    while (std::optional<InputRecord> record = reader.next()) {
      if (!record->ok()) {
        spdlog::warn("{}:{}: {}", path, record->line, record->reject);
        ++stats.test_rejected;
        continue;
      }
      const auto source = static_cast<uint32_t>(index.sources.size());
      index.sources.push_back(path + ":" + std::to_string(record->line));
      for (const auto& [name, text] : record->fields) {
        ++stats.test_texts;
        hasher.read(text);
        if (hasher.count() == 0) ++stats.short_texts;
        for (size_t k = 0; k < hasher.count(); ++k)
          index.ngrams.try_emplace(hasher.hash(k), source);
      }
    }
  }
  stats.ngrams = index.ngrams.size();
  return index;
}

void append_report_line(std::string& out, uint64_t line, const std::string& source,
                        const std::string& words, std::string_view text) {
  out += "{\"line\":";
  append_json_int(out, static_cast<int64_t>(line));
  out += ",\"matches\":";
  append_json_string(out, source);
  out += ",\"ngram\":";
  append_json_string(out, words);
  out += ",\"text\":";
  append_json_string(out, report_excerpt(text));
  out += "}\n";
}

}  // namespace

DecontamStats run_decontam(const DecontamOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  validate(options);
  DecontamStats stats;
  const TestIndex index = read_test_sets(options, stats);
  if (stats.short_texts > 0) {
    spdlog::warn("decontam: {} of {} test texts have fewer than {} words and can match nothing",
                 stats.short_texts, stats.test_texts, options.ngram);
  }

  // The input is read twice in step, for its texts and for its lines as they were, so standard
  // input is copied to a temporary file first.
  const InputFiles input(options.inputs);
  ReaderOptions reader_options;
  reader_options.persona_fields = {options.field};
  RecordReader records(input.paths(), reader_options);
  RawLineReader raw(input.paths());
  OutputFile output(options.output);
  std::optional<OutputFile> report;
  if (!options.report.empty()) report.emplace(options.report);

  NgramHasher hasher(options.ngram);
  std::optional<InputRecord> record = records.next();
  std::string line;
  std::string report_line;
  for (uint64_t number = 1; raw.next(&line); ++number) {
    if (!record || record->line != number) continue;  // a blank line: the reader skipped it
    ++stats.read;
    bool keep = record->ok();
    if (!keep) {
      spdlog::warn("{}:{}: {}", input.name(record->file), record->file_line, record->reject);
      ++stats.rejected;
    } else {
      hasher.read(record->persona);
      for (size_t k = 0; k < hasher.count(); ++k) {
        const auto found = index.ngrams.find(hasher.hash(k));
        if (found == index.ngrams.end()) continue;
        keep = false;
        ++stats.dropped;
        if (report) {
          report_line.clear();
          append_report_line(report_line, number, index.sources[found->second], hasher.words(k),
                             record->persona);
          report->write(report_line);
        }
        break;
      }
    }
    if (keep) {
      ++stats.kept;
      line += '\n';
      output.write(line);
    }
    record = records.next();
  }
  if (record) throw Error(input.name() + ": the input changed while decontam read it");
  // From here on the results are complete: make them visible.
  if (report) report->commit();
  output.commit();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace personagen
