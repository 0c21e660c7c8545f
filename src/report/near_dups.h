#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dedup/minhash.h"
#include "report/figures.h"

namespace personagen {

// The near-duplicate rate of a stream of records at one or more Jaccard thresholds, in memory
// bounded by `capacity` records whatever the stream's length.
//
// The rate is the share of records that have a near duplicate LATER in the stream: what dedup
// drops when its groups are cliques (a group of k records pairwise similar loses k - 1, all but
// its last here, all but its first in dedup). Where similarity is not transitive (a ~ b ~ c but
// not a ~ c) this counts a and b, while dedup, keeping a, drops only b.
//
// Why a sample, and why this one: marking every record would need every record's signature.
// Instead record i is sampled when hash64(i, seed) falls under a limit that halves whenever the
// sample outgrows `capacity` (dropping the records above the new limit), as in adaptive
// (distinct) sampling: a record still in the sample has been in it since it was read, so every
// record after it was compared with it, and the sample is a uniform one of the stream. Every
// record is looked up, through LSH band tables of the sampled records' signatures (one banding
// per threshold, choose_lsh_bands), before it may join the sample, and marks each sampled record
// it is similar to. rate = marked / sampled is then an unbiased estimate; it is exact when every
// record was sampled. Candidates are confirmed as NearDupIndex confirms them: exact Jaccard when
// both records have at most num_perm shingles, else the signatures' estimate (a candidate whose
// estimate is more than 0.2 below the threshold is turned away without the exact count).
class NearDupSampler {
 public:
  // `hasher` must outlive the sampler. Throws a usage Error if a threshold has no banding.
  NearDupSampler(const MinHasher& hasher, std::vector<double> thresholds, size_t capacity,
                 uint64_t seed);

  // Record number `index` (0, 1, 2, ... in stream order) with its sorted shingles
  // (shingle_text) and its signature (hasher.signature).
  void add(uint64_t index, std::span<const uint32_t> shingles, std::span<const uint32_t> signature);

  // Records in the sample now, and whether that is every record added.
  size_t sampled() const { return records_.size(); }
  bool complete() const { return limit_ == UINT64_MAX; }
  // Whether some record had more shingles than signature values, so that its comparisons were
  // the signature's estimate rather than an exact Jaccard similarity.
  bool estimated() const { return estimated_; }
  // The rate at thresholds[t]: exact (method "exact minhash"), or with its 95% bound
  // 1.96 * sqrt(p (1 - p) / n) (method "minhash sample").
  Estimate rate(size_t t) const;

 private:
  struct Sampled {
    uint64_t draw = 0;           // hash64 of its index: sampled while under limit_
    uint32_t first = 0;          // its values in values_: shingles (if kept), then signature
    uint32_t shingles = 0;       // how many shingles it has
    bool kept_shingles = false;  // at most num_perm shingles: stored for exact Jaccard
    uint32_t marked = 0;         // bit t: it has a later near duplicate at thresholds[t]
    uint32_t seen = 0;           // the lookup that last met it, so each is confirmed once
  };
  // One threshold's band tables: open addressing, slots of (band hash << 32 | id + 1).
  struct Bands {
    double threshold = 0;
    LshBands lsh;
    std::vector<std::vector<uint64_t>> tables;
    size_t entries = 0;  // sampled records in the tables
    size_t stale = 0;    // of which marked since: they need no more lookups
  };

  uint32_t band_key(std::span<const uint32_t> signature, const LshBands& lsh, size_t band) const;
  // An upper bound of the estimated similarity of sampled record `id` and the record being
  // looked up, from the low bytes of their signatures: one cache line, where the signature is
  // four, so most candidates are turned away without reading more.
  double rough_similarity(uint32_t id) const;
  // Whether a sampled record and a record looked up reach `threshold`.
  bool similar(const Sampled& s, std::span<const uint32_t> shingles,
               std::span<const uint32_t> signature, double threshold) const;
  void lookup(std::span<const uint32_t> shingles, std::span<const uint32_t> signature);
  void insert(uint32_t id);
  // Inserts sampled record `id` into threshold t's tables, unless it is marked for t already.
  void insert(uint32_t id, size_t t);
  // Rebuilds threshold t's tables with its unmarked records only, so that lookups no longer
  // walk past the marked ones (in template-collapsed data, most of the sample).
  void rebuild(size_t t);
  // Halves limit_ until the sample fits, compacts it and rebuilds the tables.
  void shrink();
  // Fills the tables again from the sample, at the size it needs now.
  void rebuild();

  const MinHasher& hasher_;
  size_t num_perm_;
  size_t capacity_;
  uint64_t seed_;
  uint64_t limit_ = UINT64_MAX;
  std::vector<Bands> bands_;
  std::vector<Sampled> records_;
  std::vector<uint32_t> values_;
  std::vector<uint8_t> low_bytes_;    // per sampled record, num_perm low bytes of its signature
  std::vector<uint8_t> query_bytes_;  // those of the record being looked up
  uint32_t lookups_ = 0;
  bool estimated_ = false;
};

}  // namespace personagen
