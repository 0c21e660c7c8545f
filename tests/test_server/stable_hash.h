#pragma once

// The test server's own hashes, for tool names, embeddings and random faults. The server is built
// without personagen_core on purpose, so these are not src/util/hash.h: the client is never
// checked against its own code.

#include <cstdint>
#include <string_view>

namespace personagen::testing::detail {

// FNV-1a with the standard 64-bit offset basis and prime: stable across runs and machines,
// unlike std::hash, so tool names and embeddings are reproducible.
inline uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// The splitmix64 finaliser as a pure function: 64 well-mixed bits from any input, so nearby
// seeds (seed + 1, seed ^ attempt) give unrelated values.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace personagen::testing::detail
