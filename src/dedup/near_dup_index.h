#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dedup/index_growth.h"
#include "dedup/minhash.h"

namespace personagen {

// The records that the MinHash stage has kept so far, and the LSH band tables that find the
// candidates for a new record among them.
//
// Why it stores shingle sets: a candidate is confirmed with its exact Jaccard similarity when
// both records have at most num_perm shingles (short texts such as personas), so no pair above
// the threshold is lost to the estimate's noise and none below it is dropped; a record with more
// shingles keeps its signature instead, and pairs involving it are judged by the estimate.
// Either way a record costs at most num_perm * 4 + 24 bytes, plus 8 bytes per band in the tables.
// Why the tables hold ids only: an open-addressing table per band maps 32 bits of the band's
// hash to the ids of the records with that band, in slots of 8 bytes, with no per-bucket lists.
class NearDupIndex {
 public:
  // `hasher` must outlive the index. Throws a usage Error if lsh needs more than
  // hasher.num_perm() values.
  NearDupIndex(const MinHasher& hasher, LshBands lsh, double threshold);

  struct Match {
    uint32_t id = 0;        // the kept record's id, in order of add()
    double similarity = 0;  // exact Jaccard, or the signature estimate (see above)
  };

  // The most similar kept record at or above the threshold among the candidates of a record
  // with these sorted shingles and this signature; the earliest on a tie; nullopt if none.
  std::optional<Match> find(std::span<const uint32_t> shingles,
                            std::span<const uint32_t> signature);

  // Adds a kept record and returns its id: 0, 1, 2, ... Throws Error past 2^32 - 2 records.
  uint32_t add(std::span<const uint32_t> shingles, std::span<const uint32_t> signature);
  // Counts a record dropped as a near duplicate as a member of its band buckets. Why: a bucket
  // holds the first kMaxBucket records that reached the MinHash stage with its key, kept or not,
  // so that which records are candidates does not depend on earlier decisions, and the staged
  // dedup (dedup_stages.h), which sees the buckets before anything is decided, finds the same.
  void add_dropped(std::span<const uint32_t> signature);

  // --- Shared with the staged dedup (dedup_stages.h), which must judge exactly as find() does.

  // A band bucket holds the first kMaxBucket records that reached the MinHash stage with its key.
  static constexpr size_t kMaxBucket = 64;
  // The 32-bit key of band `band` of a signature cut into bands of `rows` values: the high 32 bits
  // of hash64(the band's bytes, band).
  static uint32_t band_key(std::span<const uint32_t> signature, size_t band, size_t rows);
  // A 64-bit map of a record's shingles (bit shingle % 64), for the bound in similarity().
  static uint64_t bits_of(std::span<const uint32_t> shingles);
  // A record as similarity() sees it. `shingles` is empty when it has more than num_perm of
  // them (the signature stands for them); `signature` may be empty when shingles are given, and
  // is then computed if needed.
  struct Values {
    std::span<const uint32_t> shingles;
    std::span<const uint32_t> signature;
    uint32_t shingle_count = 0;
    uint64_t bits = 0;  // bits_of(all its shingles)
  };
  // The similarity find() gives `record` with the earlier `other`: -1 when their shingle counts
  // and bits rule out `threshold`; else the exact Jaccard when both have at most num_perm
  // shingles (or -1 as soon as it cannot reach the threshold), else the signature estimate.
  // `scratch` holds signatures computed on the way.
  static double similarity(const MinHasher& hasher, double threshold, const Values& record,
                           const Values& other, std::vector<uint32_t>& scratch);

  size_t size() const { return refs_.size(); }
  // Bytes held by the tables and the stored records, for the log.
  size_t memory_bytes() const;
  // What they may take while `more` records go in.
  GrowthBytes growth(size_t more) const;

 private:
  // One band's table: slots of (32 bits of the band hash << 32 | id + 1), 0 when empty.
  struct Table {
    std::vector<uint64_t> slots;
    size_t used = 0;
  };

  uint64_t band_hash(std::span<const uint32_t> signature, size_t band) const;
  // Enters `slot` (id + 1, or the dropped mark) in the bucket of each band, unless it is full.
  void enter_bands(std::span<const uint32_t> signature, uint32_t slot);
  void grow(Table& table);
  // The stored values of record `id`: its shingles, or its signature if `is_signature`.
  std::span<const uint32_t> stored(uint32_t id, bool& is_signature) const;
  // What is known of a record without reading its stored values: a 64-bit map of its shingles
  // (bit shingle % 64) and its shingle count, with kSignatureFlag if its signature is stored.
  struct Summary {
    uint64_t bits = 0;
    uint32_t size = 0;
  };
  // The stored record `id` as similarity() sees it.
  Values values_of(uint32_t id) const;

  const MinHasher& hasher_;
  LshBands lsh_;
  double threshold_;
  std::vector<Table> tables_;
  // Records live in chunks, so storage grows without copying what is already stored.
  std::vector<std::vector<uint32_t>> chunks_;
  std::vector<uint64_t> refs_;      // per id: chunk << 32 | offset in the chunk
  std::vector<Summary> summaries_;  // per id
  std::vector<uint64_t> hashes_;    // per band: the hash of the record being looked up
  std::vector<uint32_t> candidates_;
  std::vector<uint32_t> scratch_;  // a stored record's signature, when it has to be computed
};

}  // namespace personagen
