// Stage 1 of the staged dedup: a part's exact keys, band keys and MinHash values (dedup_stages.h).
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dedup/dedup_stages.h"
#include "dedup/dedup_work.h"
#include "dedup/minhash.h"
#include "dedup/near_dup_index.h"
#include "dedup/record_file.h"
#include "dedup/spill_sort.h"
#include "dedup/stage_lock.h"
#include "dedup/syntactic_dedup.h"
#include "input/record_reader.h"
#include "personagen/error.h"

namespace personagen {
namespace {

// A file of bad lines would otherwise flood the log; a last warning gives the count in all.
constexpr uint64_t kMaxPartRejectWarnings = 100;

std::string file_list(const std::vector<std::string>& files) {
  std::string out;
  for (const std::string& file : files) out += (out.empty() ? "" : ", ") + file;
  return "[" + out + "]";
}

// Sorts one kind of entry and writes the sorted file.
template <class T>
struct SortedOutput {
  SortedOutput(const RunDirectory& runs, const std::string& dir, const std::string& name,
               size_t memory_bytes)
      : sorter(runs, name, memory_bytes), path(dir + "/" + name) {}
  void finish() {
    RecordFileWriter writer(path, sizeof(T), true);
    sorter.finish(false, [&](const T& entry) { writer.write(entry); });
    writer.commit();
  }
  SpillSorter<T> sorter;
  std::string path;
};

}  // namespace

StageResult dedup_signatures(const StageOptions& options) {
  check_stage_options(options, "dedup signatures", true);
  validate_minhash_options(options.dedup);
  const WorkParams params = work_params(options.dedup);
  const std::string dir = signatures_dir(options.work, options.part);
  const std::vector<std::string> files = part_files(options.dedup.inputs, options.part);
  StageResult result;
  const StageLock lock(lock_path(dir), "signatures", options.work);
  if (std::optional<SignaturesDone> done = read_signatures_done(dir)) {
    check_params(dir, done->params, params, "this run");
    if (done->files != files) {
      throw Error(done_path(dir) + ": made from the files " + file_list(done->files) +
                  ", this run's part has " + file_list(files));
    }
    check_inputs_unchanged(dir, *done, "dedup signatures");
    result.already_done = true;
    result.records = done->read;
    return result;
  }
  // From here on every file is written as .tmp and renamed when complete; done.json comes last.
  const RunDirectory runs = begin_stage(options, dir,
                                        "signatures-part-" + std::to_string(options.part.index) +
                                            "-of-" + std::to_string(options.part.count));
  const size_t bands = params.bands;
  const size_t memory = sort_memory(options) / (bands + 1);
  SortedOutput<ExactEntry> exact(runs, dir, "exact", memory);
  std::vector<std::unique_ptr<SortedOutput<BandEntry>>> band_files;
  for (size_t band = 0; band < bands; ++band) {
    band_files.push_back(std::make_unique<SortedOutput<BandEntry>>(
        runs, dir, "band-" + std::to_string(band), memory));
  }
  RecordFileWriter values(dir + "/values", sizeof(uint32_t), true);
  RecordFileWriter index(dir + "/values.index", sizeof(ValueRef), true);

  SignaturesDone done;
  done.params = params;
  done.part = options.part;
  done.files = files;
  // Stamped before reading: a change while this stage reads is then seen by the next stage.
  done.stamps = file_stamps(files);
  uint64_t warned = 0;  // rejected lines warned of, or that would have been past the cap
  if (!files.empty()) {
    const MinHasher hasher(params.num_perm, params.seed);
    ReaderOptions reader_options;
    reader_options.persona_fields = {params.field};
    RecordReader reader(files, reader_options);
    std::string normalized;
    std::vector<uint32_t> shingles, signature;
    while (std::optional<InputRecord> record = reader.next()) {
      // One index entry per line: blank lines, which the reader skips, have empty ones.
      while (index.count() + 1 < record->line) index.write(ValueRef{});
      ++done.read;
      ValueRef ref;
      if (!record->ok()) {
        ++done.rejected;
        if (done.read > options.warned_records && ++warned <= kMaxPartRejectWarnings) {
          spdlog::warn("{}:{}: {}", files[record->file], record->file_line, record->reject);
        }
        index.write(ref);
        continue;
      }
      const ExactDupIndex::Key key =
          prepare_text(record->persona, params.ngram, hasher, normalized, shingles, signature);
      exact.sorter.add({key.low, key.high, record->line});
      if (!shingles.empty()) {
        const std::vector<uint32_t>& stored =
            shingles.size() <= params.num_perm ? shingles : signature;
        ref = {values.count(), static_cast<uint32_t>(stored.size()),
               static_cast<uint32_t>(shingles.size()), NearDupIndex::bits_of(shingles)};
        values.write(stored.data(), stored.size());
        for (size_t band = 0; band < bands; ++band) {
          band_files[band]->sorter.add({NearDupIndex::band_key(signature, band, params.rows), 0,
                                        record->line, key.low, key.high});
        }
      }
      index.write(ref);
    }
    done.lines = reader.position().line - 1;
    while (index.count() < done.lines) index.write(ValueRef{});
  }
  if (warned > kMaxPartRejectWarnings) {
    spdlog::warn("dedup signatures: {} lines rejected in all ({} shown)", done.rejected,
                 kMaxPartRejectWarnings);
  }

  exact.finish();
  result.spilled_runs += exact.sorter.spilled_runs();
  for (auto& band : band_files) {
    band->finish();
    result.spilled_runs += band->sorter.spilled_runs();
  }
  values.commit();
  index.commit();
  write_done(dir, done);
  result.records = done.read;
  return result;
}

}  // namespace personagen
