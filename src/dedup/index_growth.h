#pragma once

#include <algorithm>
#include <cstddef>

namespace personagen {

// How the dedup indexes grow, so that they can tell ahead of a batch what it may cost:
// syntactic_dedup.cpp checks --memory before each batch, not after, since the band tables all
// double in the same batch (10M personas: from 1.2 to 1.9 GiB at once).

// Their open-addressing tables stay at most 70% full: past that, linear probing walks ever longer
// runs of slots.
inline bool table_full(size_t used, size_t slots) {
  return used * 10 > slots * 7;
}

// The bytes of growing structures after more entries go in, and the largest old buffer held
// while one of them moves into its doubled one (they grow one at a time).
struct GrowthBytes {
  size_t after = 0;
  size_t moving = 0;

  size_t peak() const { return after + moving; }
  void add(const GrowthBytes& other) {
    after += other.after;
    moving = std::max(moving, other.moving);
  }
  // A table of `slots` slots of `slot_bytes`, `used` of them full, after `more` entries.
  void table(size_t slots, size_t used, size_t more, size_t slot_bytes) {
    size_t grown = slots;
    while (table_full(used + more, grown)) grown *= 2;
    after += grown * slot_bytes;
    if (grown != slots) moving = std::max(moving, grown / 2 * slot_bytes);
  }
  // A std::vector of `size` elements of `bytes` within `capacity`, after `more` elements; it
  // grows by doubling (libstdc++).
  void vector(size_t size, size_t capacity, size_t more, size_t bytes) {
    size_t grown = std::max<size_t>(capacity, 1);
    while (size + more > grown) grown *= 2;
    after += grown * bytes;
    if (grown != capacity) moving = std::max(moving, grown / 2 * bytes);
  }
};

}  // namespace personagen
