#include "dedup/syntactic_dedup.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "dedup/dedup_files.h"
#include "dedup/exact_dup_index.h"
#include "dedup/near_dup_index.h"
#include "dedup/text_normalize.h"
#include "input/input_files.h"
#include "input/record_reader.h"
#include "personagen/error.h"

namespace personagen {
namespace {

// A file of bad lines would otherwise flood the log; a last warning gives the count in all.
constexpr uint64_t kMaxRejectWarnings = 100;
// Prepared records go to the judging thread in batches, so the queue's lock is taken once per
// batch, not per record; a few batches ahead keep both threads busy and bound the memory between.
constexpr size_t kBatchRecords = 4096;
constexpr size_t kBatchesAhead = 4;

// One input line, ready to be judged.
struct PreparedRecord {
  uint64_t line = 0;
  std::string reject;  // non-empty: the line is unusable, and this is why
  ExactDupIndex::Key key;
  uint32_t first_value = 0;  // where its shingles, then its signature, start in the batch
  uint32_t shingle_count = 0;
};

// Records in input order; their shingles and signatures share one array.
struct Batch {
  std::vector<PreparedRecord> records;
  std::vector<uint32_t> values;
};

// Hands batches from the thread that prepares them to the one that judges them, holding at most
// a few, so memory stays bounded whatever the input size.
class BatchQueue {
 public:
  // Blocks while full. False if the queue was closed by the consumer.
  bool push(Batch batch) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return batches_.size() < kBatchesAhead || closed_; });
    if (closed_) return false;
    batches_.push_back(std::move(batch));
    changed_.notify_all();
    return true;
  }
  // Blocks while empty. Nullopt once the producer finished and everything was taken; rethrows
  // the producer's error, if it had one.
  std::optional<Batch> pop() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !batches_.empty() || done_; });
    if (batches_.empty()) {
      if (error_) std::rethrow_exception(error_);
      return std::nullopt;
    }
    Batch batch = std::move(batches_.front());
    batches_.pop_front();
    changed_.notify_all();
    return batch;
  }
  void finish(std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    done_ = true;
    error_ = std::move(error);
    changed_.notify_all();
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> batches_;
  bool done_ = false;
  bool closed_ = false;
  std::exception_ptr error_;
};

// Reads the input and prepares its records, on its own thread.
void prepare_records(const InputFiles& files, const DedupOptions& options, const MinHasher& hasher,
                     BatchQueue& queue) {
  try {
    ReaderOptions reader_options;
    reader_options.persona_fields = {options.field};
    RecordReader reader(files.paths(), reader_options);
    std::string normalized;
    std::vector<uint32_t> shingles;
    std::vector<uint32_t> signature;
    Batch batch;
    while (std::optional<InputRecord> input = reader.next()) {
      PreparedRecord& record = batch.records.emplace_back();
      record.line = input->line;
      if (!input->ok()) {
        record.reject =
            files.name(input->file) + ":" + std::to_string(input->file_line) + ": " + input->reject;
      } else {
        record.key =
            prepare_text(input->persona, options.ngram, hasher, normalized, shingles, signature);
        record.first_value = static_cast<uint32_t>(batch.values.size());
        record.shingle_count = static_cast<uint32_t>(shingles.size());
        batch.values.insert(batch.values.end(), shingles.begin(), shingles.end());
        batch.values.insert(batch.values.end(), signature.begin(), signature.end());
      }
      if (batch.records.size() == kBatchRecords) {
        if (!queue.push(std::move(batch))) return;
        batch = Batch();
      }
    }
    if (!batch.records.empty() && !queue.push(std::move(batch))) return;
    queue.finish(nullptr);
  } catch (...) {
    queue.finish(std::current_exception());
  }
}

// Judges prepared records in input order against the records kept before them.
class Judge {
 public:
  Judge(const MinHasher& hasher, LshBands lsh, const DedupOptions& options, size_t memory_bytes,
        DedupDecisions& decisions, DedupStats& stats)
      : options_(options),
        memory_bytes_(memory_bytes - memory_bytes / 16),
        near_(hasher, lsh, options.threshold),
        num_perm_(hasher.num_perm()),
        decisions_(decisions),
        stats_(stats) {}

  void judge(const Batch& batch) {
    // Checked before the batch, for the most it may take: the tables double in the same batch.
    if (const size_t bytes = memory_after(batch.records.size()); bytes > memory_bytes_) {
      throw IndexOutgrewMemory{stats_.read, bytes};
    }
    for (const PreparedRecord& record : batch.records) {
      ++stats_.read;
      if (!record.reject.empty()) {
        reject(record);
        continue;
      }
      const uint32_t* values = batch.values.data() + record.first_value;
      decide(record, {values, record.shingle_count},
             {values + record.shingle_count, record.shingle_count ? num_perm_ : 0});
    }
  }

  void finish() {
    if (stats_.rejected > kMaxRejectWarnings) {
      spdlog::warn("{}: {} lines rejected in all ({} shown)",
                   display_name(join_inputs(options_.inputs)), stats_.rejected, kMaxRejectWarnings);
    }
    spdlog::info("dedup: the index of {} kept records holds {} MB", decisions_.kept_lines.size(),
                 memory() >> 20);
  }

 private:
  // The most the index and the decisions may hold while `more` records are judged.
  size_t memory_after(size_t more) const {
    GrowthBytes g = near_.growth(more);
    g.add(exact_.growth(more));
    g.vector(decisions_.kept_lines.size(), decisions_.kept_lines.capacity(), more,
             sizeof(uint64_t));
    g.vector(decisions_.drops.size(), decisions_.drops.capacity(), more, sizeof(DroppedRecord));
    g.vector(kept_ids_.size(), kept_ids_.capacity(), more, sizeof(uint32_t));
    return g.peak();
  }

  // What the index and the decisions hold.
  size_t memory() const {
    return near_.memory_bytes() + exact_.memory_bytes() +
           decisions_.kept_lines.capacity() * sizeof(uint64_t) +
           decisions_.drops.capacity() * sizeof(DroppedRecord) +
           kept_ids_.capacity() * sizeof(uint32_t);
  }

  void reject(const PreparedRecord& record) {
    if (++stats_.rejected <= kMaxRejectWarnings) {
      spdlog::warn("{}", record.reject);
    }
  }

  void decide(const PreparedRecord& record, std::span<const uint32_t> shingles,
              std::span<const uint32_t> signature) {
    std::vector<uint64_t>& kept = decisions_.kept_lines;
    // The first line of a text is its keeper, even when it was dropped as a near duplicate: the
    // staged dedup (dedup_stages.h) sees every line's text before anything is decided, so it can
    // only judge exact copies this way, and both must give the same result.
    if (std::optional<uint64_t> first = exact_.find(record.key)) {
      decisions_.drops.push_back({record.line, *first, 1.0, DedupStage::exact});
      ++stats_.exact_dropped;
      return;
    }
    // A text without words has no shingles: only the exact stage can judge it.
    if (!shingles.empty()) {
      if (std::optional<NearDupIndex::Match> match = near_.find(shingles, signature)) {
        decisions_.drops.push_back(
            {record.line, kept[kept_ids_[match->id]], match->similarity, DedupStage::minhash});
        ++stats_.near_dropped;
        near_.add_dropped(signature);
        exact_.add(record.key, record.line);
        return;
      }
    }
    // Kept so far. Near-index ids map onto positions in kept_lines.
    const auto id = static_cast<uint32_t>(kept.size());
    kept.push_back(record.line);
    exact_.add(record.key, record.line);
    if (!shingles.empty()) {
      near_.add(shingles, signature);
      kept_ids_.push_back(id);
    }
  }

  const DedupOptions& options_;
  // The index's share of --memory: a sixteenth stays for what memory_after() does not count,
  // the prepared batches in flight and the reader's buffers.
  size_t memory_bytes_;
  NearDupIndex near_;
  ExactDupIndex exact_;
  size_t num_perm_;
  std::vector<uint32_t> kept_ids_;  // near-index id -> position in kept_lines
  DedupDecisions& decisions_;
  DedupStats& stats_;
};

}  // namespace

std::string_view to_string(DedupStage stage) {
  switch (stage) {
    case DedupStage::exact:
      return "exact";
    case DedupStage::minhash:
      return "minhash";
    case DedupStage::semantic:
      return "semantic";
  }
  return "";
}

ExactDupIndex::Key prepare_text(std::string_view text, size_t ngram, const MinHasher& hasher,
                                std::string& normalized, std::vector<uint32_t>& shingles,
                                std::vector<uint32_t>& signature) {
  normalize_text(text, normalized);
  shingle_text(normalized, ngram, shingles);
  signature.clear();
  if (!shingles.empty()) {
    signature.resize(hasher.num_perm());
    hasher.signature(shingles, signature.data());
  }
  return ExactDupIndex::key_of(normalized);
}

void run_syntactic_stages(const InputFiles& input, const DedupOptions& options, LshBands lsh,
                          size_t memory_bytes, DedupDecisions& decisions, DedupStats& stats) {
  // The hasher is only read from here on (each thread signs with its own buffer).
  const MinHasher hasher(options.num_perm, options.seed);
  Judge judge(hasher, lsh, options, memory_bytes, decisions, stats);
  BatchQueue queue;
  std::thread producer(prepare_records, std::cref(input), std::cref(options), std::cref(hasher),
                       std::ref(queue));
  try {
    while (std::optional<Batch> batch = queue.pop()) judge.judge(*batch);
  } catch (...) {
    queue.close();
    producer.join();
    throw;
  }
  producer.join();
  judge.finish();
}

}  // namespace personagen
