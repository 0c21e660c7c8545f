// The options of the staged dedup, stage 4 (filter), and all four on one machine
// (dedup_stages.h). Stages 1-3 are in dedup_signatures.cpp, dedup_buckets.cpp and
// dedup_clusters.cpp; the work directory's layout and records in dedup_work.h.
#include "dedup/dedup_stages.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "dedup/dedup_files.h"
#include "dedup/dedup_work.h"
#include "dedup/record_file.h"
#include "dedup/spill_sort.h"
#include "dedup/stage_lock.h"
#include "dedup/syntactic_dedup.h"
#include "input/record_reader.h"
#include "personagen/error.h"

namespace personagen {
namespace {

// The out-of-core run's work directories are PARENT/personagen-dedup.XXXXXX, each locked
// (run.lock) by its run for as long as it lives.
constexpr char kOutOfCorePrefix[] = "personagen-dedup";

// Removes the work directories that killed runs (Ctrl-C, the OOM killer) left in `parent`: those
// whose lock nobody holds. One without a lock file yet is a run starting up, and stays.
void remove_abandoned_work(const std::string& parent) {
  const std::string prefix = std::string(kOutOfCorePrefix) + ".";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(parent, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != prefix.size() + 6 || !name.starts_with(prefix)) continue;
    const std::string lock = entry.path().string() + "/run.lock";
    if (!std::filesystem::exists(lock, error)) continue;
    try {
      const StageLock abandoned(lock, "out-of-core run", entry.path().string());
      std::filesystem::remove_all(entry.path(), error);
    } catch (const Error&) {
      // a live run's
    }
  }
}

std::optional<size_t> parse_count(std::string_view text) {
  size_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// The index of the first drop after `line`, by binary search of the sorted drops.
uint64_t first_drop_after(const RecordFileReader& drops, uint64_t line) {
  uint64_t low = 0, high = drops.count();
  while (low < high) {
    const uint64_t mid = low + (high - low) / 2;
    DropEntry drop;
    drops.read_at(mid, 1, &drop);
    if (drop.line <= line) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  return low;
}

[[noreturn]] void input_changed(const std::vector<std::string>& files) {
  throw Error("dedup filter: " + files.front() +
              (files.size() > 1 ? " (and the part's other files)" : "") +
              ": the input changed since dedup signatures read it");
}

}  // namespace

InputPart parse_part(const std::string& text, const std::string& flag) {
  const size_t slash = text.find('/');
  std::optional<size_t> index, count;
  if (slash != std::string::npos) {
    index = parse_count(std::string_view(text).substr(0, slash));
    count = parse_count(std::string_view(text).substr(slash + 1));
  }
  if (!index || !count || *count == 0 || *index >= *count) {
    throw usage_error(flag + ": expected I/N with 0 <= I < N (part I of N, from 0), got \"" + text +
                      "\"");
  }
  return {*index, *count};
}

StageResult dedup_filter(const StageOptions& options) {
  check_stage_options(options, "dedup filter", true);
  const DedupOptions& o = options.dedup;
  if (o.output.empty()) throw usage_error("dedup filter: --output is required (a JSONL file)");
  if (!o.report.empty() && o.report == o.output) {
    throw usage_error("dedup filter: --report and --output must be different files");
  }
  const std::vector<SignaturesDone> parts = read_all_signatures(options.work, "dedup filter");
  const WorkParams& params = parts.front().params;
  if (parts.size() != options.part.count) {
    throw usage_error("dedup filter: --part " + std::to_string(options.part.index) + "/" +
                      std::to_string(options.part.count) + ", but the signatures were made in " +
                      std::to_string(parts.size()) + " parts");
  }
  const SignaturesDone& part = parts[options.part.index];
  const std::vector<std::string> files = part_files(o.inputs, options.part);
  if (files != part.files) {
    throw Error("dedup filter: part " + std::to_string(options.part.index) + " of " +
                std::to_string(options.part.count) + " has other files than " +
                done_path(signatures_dir(options.work, part.part)) + " names");
  }
  check_inputs_unchanged(signatures_dir(options.work, part.part), part, "dedup filter");
  const std::string clusters = clusters_dir(options.work);
  if (!read_clusters_done(clusters, params)) {
    throw Error("dedup filter: no clusters yet (" + done_path(clusters) +
                "); run dedup clusters first");
  }
  uint64_t offset = 0;
  for (size_t p = 0; p < options.part.index; ++p) offset += parts[p].lines;

  RecordFileReader drops(clusters + "/drops", sizeof(DropEntry));
  uint64_t next_drop = first_drop_after(drops, offset);
  DropEntry drop;
  auto load_drop = [&] {
    const bool any = next_drop < drops.count();
    if (any) drops.read_at(next_drop, 1, &drop);
    if (!any || drop.line > offset + part.lines) drop.line = UINT64_MAX;
  };
  load_drop();

  StageResult result;
  DedupStats& stats = result.stats;
  stats.bands = params.bands;
  stats.rows = params.rows;
  OutputFile output(o.output);
  std::unique_ptr<OutputFile> report;
  if (!o.report.empty()) report = std::make_unique<OutputFile>(o.report);
  if (!files.empty()) {
    ReaderOptions reader_options;
    reader_options.persona_fields = {params.field};
    RecordReader records(files, reader_options);
    RawLineReader raw(files);
    std::optional<InputRecord> record = records.next();
    std::string line, report_line;
    uint64_t number = 1;
    for (;; ++number) {
      const bool is_record = record && record->line == number;
      const bool is_drop = drop.line == offset + number;
      const bool keep = is_record && record->ok() && !is_drop;
      if (!raw.next(keep ? &line : nullptr)) break;
      if (is_record) {
        ++stats.read;
        stats.rejected += !record->ok();
      }
      if (keep) {
        line += '\n';
        output.write(line);
        ++stats.kept;
      }
      if (is_drop) {
        if (!is_record || !record->ok()) input_changed(files);
        const DroppedRecord dropped{drop.line, drop.duplicate_of, drop.similarity,
                                    static_cast<DedupStage>(drop.stage)};
        ++(dropped.stage == DedupStage::exact ? stats.exact_dropped : stats.near_dropped);
        if (report) {
          report_line.clear();
          append_report_line(report_line, dropped, record->persona);
          report->write(report_line);
        }
        ++next_drop;
        load_drop();
      }
      if (is_record) record = records.next();
    }
    if (record || number - 1 != part.lines) input_changed(files);
  }
  if (drop.line != UINT64_MAX) input_changed(files);
  // From here on the results are complete: make them visible.
  if (report) report->commit();
  output.commit();
  result.records = stats.read;
  return result;
}

DedupStats run_dedup_out_of_core(const DedupOptions& options, size_t memory_bytes,
                                 const std::string& tmp, uint64_t* spilled_runs,
                                 uint64_t warned_records) {
  const auto start = std::chrono::steady_clock::now();
  if (options.inputs.empty()) throw usage_error("dedup: --input is required (a JSONL file)");
  if (options.output.empty()) throw usage_error("dedup: --output is required (a JSONL file, or -)");
  std::string parent = tmp;
  if (parent.empty()) {
    std::error_code error;
    parent = std::filesystem::temp_directory_path(error).string();
    if (error) parent = "/tmp";
  }
  // Removed at the end, also on an error; a killed run's is removed by the next run.
  remove_abandoned_work(parent);
  const RunDirectory work(parent, kOutOfCorePrefix);
  const StageLock lock(work.path() + "/run.lock", "out-of-core run", work.path());
  StageOptions stage;
  stage.dedup = options;
  stage.work = work.path();
  stage.memory_bytes = memory_bytes;
  stage.tmp = work.path() + "/tmp";
  stage.warned_records = warned_records;
  uint64_t runs = dedup_signatures(stage).spilled_runs;
  runs += dedup_buckets(stage).spilled_runs;
  runs += dedup_clusters(stage).spilled_runs;
  DedupStats stats = dedup_filter(stage).stats;
  if (spilled_runs) *spilled_runs = runs;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace personagen
