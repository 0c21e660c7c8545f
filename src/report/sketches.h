#pragma once

// Summaries of a stream in bounded memory, for `personagen report`: counted exactly while that is
// cheap, estimated by a sketch with a stated 95% error bound once it is not.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "report/figures.h"
#include "util/hash.h"

namespace personagen {

// HyperLogLog with 2^14 registers of 6 bits (16 KiB), fed 64-bit hashes that are already well
// mixed (xxh3). The estimate is Ertl's improved raw estimator ("New cardinality estimation
// algorithms for HyperLogLog sketches", 2017), which needs neither bias tables nor a switch to
// linear counting: its relative standard error is about 1.04 / sqrt(2^14) = 0.81% at any
// cardinality, so 1.59% bounds it with 95% confidence.
class HyperLogLog {
 public:
  static constexpr int kPrecision = 14;
  static constexpr const char* kMethod = "hyperloglog p=14";

  HyperLogLog();
  void add(uint64_t hash);
  double estimate() const;
  // The 95% bound of the estimate, relative to it: 1.96 * 1.04 / sqrt(2^14).
  static double relative_error();

 private:
  std::vector<uint8_t> registers_;
};

// How many distinct 64-bit hashes were added: counted exactly in a hash set while it holds at
// most `exact_limit` of them (8 to 16 bytes each), then by a HyperLogLog, which is handed the set
// when it overflows, so the estimate covers every hash added from the start.
class DistinctCounter {
 public:
  explicit DistinctCounter(size_t exact_limit = size_t{1} << 20);
  void add(uint64_t hash);
  bool exact() const { return exact_; }
  // The count: exact (error 0, method "exact"), or the HyperLogLog's estimate with its 95% bound
  // in the count's unit.
  Estimate count() const;

 private:
  void grow();
  void overflow();

  size_t exact_limit_;
  bool exact_ = true;
  // Open addressing, linear probing; 0 marks a free slot, so the hash 0 is a flag of its own.
  std::vector<uint64_t> slots_;
  size_t used_ = 0;
  bool has_zero_ = false;
  HyperLogLog sketch_;
};

// The most frequent keys of a stream by Space-Saving (Metwally, Agrawal and El Abbadi, 2005):
// `capacity` counters; a key without one takes the smallest counter's, counting on from its
// value, which it records as its possible overcount. Exact (every error 0) until a key is first
// displaced, that is while the distinct keys fit. Any key counted more than total / capacity
// times is in the table, and each count overstates by at most its error.
class TopCounter {
 public:
  explicit TopCounter(size_t capacity = 4096);
  void add(std::string_view key);
  bool exact() const { return exact_; }
  // The `k` largest counts, largest first (ties by key), with share = count / `total`.
  std::vector<TopEntry> top(size_t k, uint64_t total) const;

 private:
  struct Counter {
    std::string key;
    uint64_t count = 0;
    uint64_t error = 0;
    size_t heap_pos = 0;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const;
  };
  // Restore the min-heap of counters (by count) from heap_[pos] up or down.
  void sift_up(size_t pos);
  void sift_down(size_t pos);

  size_t capacity_;
  bool exact_ = true;
  std::vector<Counter> counters_;
  std::vector<uint32_t> heap_;  // counter ids, the smallest count first
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> ids_;
};

// Counts per integer value (words per output): exact, in memory bounded by the distinct values.
class ValueCounts {
 public:
  void add(uint64_t value) { ++counts_[value]; }
  uint64_t total() const;
  const std::map<uint64_t, uint64_t>& counts() const { return counts_; }
  // min, nearest-rank percentiles (the smallest value with at least p% of the values at or
  // below it), max, mean, and a histogram of at most `bins` bins of equal integer width over
  // [min, max + 1). All zero, with no bins, when nothing was added.
  Distribution summary(size_t bins = 20) const;

 private:
  std::map<uint64_t, uint64_t> counts_;
};

// A uniform random sample of at most `capacity` items of a stream (Vitter's algorithm R), drawn
// with splitmix64 from `seed`: the same stream and seed give the same sample.
template <typename T>
class Reservoir {
 public:
  Reservoir(size_t capacity, uint64_t seed) : capacity_(capacity), state_(seed) {}

  // Whether the next item of the stream is kept, and if so the slot to put it in (at(slot)),
  // which may hold an item it replaces.
  bool offer(size_t& slot) {
    ++seen_;
    if (items_.size() < capacity_) {
      slot = items_.size();
      items_.emplace_back();
      return true;
    }
    if (capacity_ == 0) return false;
    const uint64_t pick = splitmix64(state_) % seen_;
    slot = static_cast<size_t>(pick);
    return pick < capacity_;
  }
  T& at(size_t slot) { return items_[slot]; }
  std::vector<T>& items() { return items_; }

 private:
  size_t capacity_;
  uint64_t state_;
  uint64_t seen_ = 0;
  std::vector<T> items_;
};

}  // namespace personagen
