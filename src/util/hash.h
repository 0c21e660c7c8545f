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

// The next value of Steele, Lea and Flood's splitmix64 generator, advancing `state`. Defined bit
// for bit, unlike the standard library's engines and distributions: MinHash permutations,
// --sample and shot sampling depend on the exact sequence (--part uses hash64).
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Lowercase hex of a 64-bit value, zero-padded to 16 digits.
std::string hex64(uint64_t value);

}  // namespace personagen
