#include "dedup/exact_dup_index.h"

#include "util/hash.h"

namespace personagen {
namespace {

// The table starts small and doubles as it fills, so a small input costs little.
constexpr size_t kExactInitialSlots = size_t{1} << 12;
// A text's key is two 64-bit hashes under different seeds: with 128 bits, two different texts
// taken for the same (and one dropped) is too unlikely to matter at any input size.
constexpr uint64_t kExactKeyHighSeed = 0x5eed0fdedd00b1e5ULL;

}  // namespace

ExactDupIndex::ExactDupIndex() : slots_(kExactInitialSlots) {}

ExactDupIndex::Key ExactDupIndex::key_of(std::string_view text) {
  return {hash64(text), hash64(text, kExactKeyHighSeed)};
}

size_t ExactDupIndex::locate(const Key& key) const {
  const size_t mask = slots_.size() - 1;
  size_t pos = key.low & mask;
  while (slots_[pos].line != 0 && (slots_[pos].low != key.low || slots_[pos].high != key.high)) {
    pos = (pos + 1) & mask;
  }
  return pos;
}

std::optional<uint64_t> ExactDupIndex::find(const Key& key) const {
  const Slot& slot = slots_[locate(key)];
  if (slot.line == 0) return std::nullopt;
  return slot.line;
}

void ExactDupIndex::add(const Key& key, uint64_t line) {
  if (table_full(used_ + 1, slots_.size())) grow();
  Slot& slot = slots_[locate(key)];
  if (slot.line != 0) return;
  slot = Slot{key.low, key.high, line};
  ++used_;
}

void ExactDupIndex::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  for (const Slot& slot : old) {
    if (slot.line != 0) slots_[locate({slot.low, slot.high})] = slot;
  }
}

}  // namespace personagen
