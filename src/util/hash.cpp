#include "util/hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>

namespace personagen {

uint64_t hash64(std::string_view data, uint64_t seed) {
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

KeyHasher::KeyHasher() : state_(XXH3_createState()) {
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}

KeyHasher::~KeyHasher() {
  XXH3_freeState(static_cast<XXH3_state_t*>(state_));
}

KeyHasher& KeyHasher::add(std::string_view part) {
  add(static_cast<uint64_t>(part.size()));
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), part.data(), part.size());
  return *this;
}

KeyHasher& KeyHasher::add(uint64_t value) {
  // Little-endian bytes, so keys are the same on every machine.
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), bytes, sizeof bytes);
  return *this;
}

std::string KeyHasher::hex128() const {
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  return hex64(h.high64) + hex64(h.low64);
}

std::string hex64(uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) out[i] = kDigits[value & 15];
  return out;
}

}  // namespace personagen
