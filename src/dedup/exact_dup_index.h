#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "dedup/index_growth.h"

namespace personagen {

// The normalized texts seen so far, as 128-bit hashes mapped to the line of the first record that
// held each, kept or dropped as a near duplicate. Two different texts share a hash with probability
// about n^2 / 2^129: never, in practice. Memory: 24 bytes per slot, at most 70% full.
class ExactDupIndex {
 public:
  struct Key {
    uint64_t low = 0;
    uint64_t high = 0;
  };
  // The key of a text; a pure function, so it may be computed on another thread.
  static Key key_of(std::string_view text);

  ExactDupIndex();

  // The line stored for `key`, if any.
  std::optional<uint64_t> find(const Key& key) const;
  // Stores `line` (at least 1) for `key`; a key already present keeps its first line.
  void add(const Key& key, uint64_t line);

  size_t size() const { return used_; }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }
  // What it may take while `more` keys go in.
  GrowthBytes growth(size_t more) const {
    GrowthBytes g;
    g.table(slots_.size(), used_, more, sizeof(Slot));
    return g;
  }

 private:
  struct Slot {
    uint64_t low = 0;
    uint64_t high = 0;
    uint64_t line = 0;  // 0: empty
  };
  // The slot holding `key`, or the empty slot where it would go.
  size_t locate(const Key& key) const;
  void grow();

  std::vector<Slot> slots_;
  size_t used_ = 0;
};

}  // namespace personagen
