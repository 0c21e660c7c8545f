#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace personagen {

// 64-bit XXH3 of `data`. Stable across runs, builds and machines: it feeds request keys,
// template hashes, shot sampling and --part slicing, all of which must not change.
uint64_t hash64(std::string_view data, uint64_t seed = 0);

// Incremental 128-bit XXH3 for request keys; add() the parts in a fixed order.
class KeyHasher {
 public:
  KeyHasher();
  ~KeyHasher();
  KeyHasher(const KeyHasher&) = delete;
  KeyHasher& operator=(const KeyHasher&) = delete;

  // Adds a length-prefixed part, so ("ab","c") and ("a","bc") differ.
  KeyHasher& add(std::string_view part);
  KeyHasher& add(uint64_t value);
  // 32 lowercase hex digits.
  std::string hex128() const;

 private:
  void* state_;
};

// Lowercase hex of a 64-bit value, zero-padded to 16 digits.
std::string hex64(uint64_t value);

}  // namespace personagen
