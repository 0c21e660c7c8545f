#include "dedup/near_dup_index.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>
#include <string_view>

#include "personagen/error.h"
#include "util/hash.h"

namespace personagen {
namespace {

// Marks, in a Summary's size, a record stored as its signature rather than its shingles; no
// record has 2^31 shingles, so the top bit is free.
constexpr uint32_t kSignatureFlag = uint32_t{1} << 31;
// Stored values go into chunks of 2^20 values (4 MiB), each reserved once: one growing array
// would copy every stored value as it grew, and for a moment need twice the memory.
constexpr size_t kChunkValues = size_t{1} << 20;
// Each band's table starts small and doubles as it fills, so a small input costs little.
constexpr size_t kBandInitialSlots = size_t{1} << 12;
// Ids are 32-bit and a slot stores id + 1, with 0 for empty and kDroppedSlot for a member of a
// bucket that was dropped as a near duplicate: it fills its place but is no candidate.
constexpr uint32_t kMaxRecords = UINT32_MAX - 1;
constexpr uint32_t kDroppedSlot = UINT32_MAX;

uint32_t key_of(uint64_t hash) {
  return static_cast<uint32_t>(hash >> 32);
}

// The Jaccard similarity of two sorted sets, or -1 as soon as the elements seen so far rule out
// reaching `threshold`: most candidates are below it, and most of those are found out early.
double jaccard_at_least(std::span<const uint32_t> a, std::span<const uint32_t> b,
                        double threshold) {
  const size_t total = a.size() + b.size();
  if (total == 0) return 1;
  // J >= t  <=>  common >= t * total / (1 + t)  <=>  total - 2 * common <= budget.
  const auto need = static_cast<size_t>(
      std::ceil(threshold * static_cast<double>(total) / (1 + threshold) - 1e-9));
  if (2 * need > total) return -1;
  const size_t budget = total - 2 * need;
  size_t common = 0;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const uint32_t x = a[i], y = b[j];
    common += x == y;
    i += x <= y;
    j += y <= x;
    if (i + j - 2 * common > budget) return -1;
  }
  return static_cast<double>(common) / static_cast<double>(total - common);
}

// False when two records' shingle counts and shingle bits rule out a Jaccard similarity at the
// threshold. Why this bound holds: a bit set for one set and not the other comes from at least
// one element that is not in the other set, so each such bit lowers the most they can share.
bool may_reach_threshold(uint64_t bits, size_t size, uint64_t other_bits, size_t other_size,
                         double threshold) {
  const size_t only_here = static_cast<size_t>(std::popcount(bits & ~other_bits));
  const size_t only_there = static_cast<size_t>(std::popcount(other_bits & ~bits));
  if (only_here > size || only_there > other_size) return false;
  const size_t most_common = std::min(size - only_here, other_size - only_there);
  const size_t least_union = size + other_size - most_common;
  return least_union == 0 ||
         static_cast<double>(most_common) / static_cast<double>(least_union) + 1e-12 >= threshold;
}

}  // namespace

NearDupIndex::NearDupIndex(const MinHasher& hasher, LshBands lsh, double threshold)
    : hasher_(hasher), lsh_(lsh), threshold_(threshold), tables_(lsh.bands) {
  if (lsh.bands == 0 || lsh.rows == 0 || lsh.bands * lsh.rows > hasher.num_perm()) {
    throw usage_error(std::to_string(lsh.bands) + " bands of " + std::to_string(lsh.rows) +
                      " rows need more than the " + std::to_string(hasher.num_perm()) +
                      " values of a signature");
  }
  for (Table& table : tables_) table.slots.assign(kBandInitialSlots, 0);
}

// A band bucket holds at most kMaxBucket records, kept or dropped as near duplicates (see
// add_dropped). Past it, a record is not added to that band: it stays findable through its
// other bands, and a flood of near-identical bands (templated text) cannot make every lookup
// walk a long run of slots.
uint32_t NearDupIndex::band_key(std::span<const uint32_t> signature, size_t band, size_t rows) {
  std::string_view bytes(reinterpret_cast<const char*>(signature.data() + band * rows),
                         rows * sizeof(uint32_t));
  return key_of(hash64(bytes, band));
}

uint64_t NearDupIndex::band_hash(std::span<const uint32_t> signature, size_t band) const {
  // The table's position comes from the same 32 bits as band_key().
  return static_cast<uint64_t>(band_key(signature, band, lsh_.rows)) << 32;
}

void NearDupIndex::grow(Table& table) {
  std::vector<uint64_t> old(table.slots.size() * 2, 0);
  old.swap(table.slots);
  const size_t mask = table.slots.size() - 1;
  for (uint64_t entry : old) {
    if (entry == 0) continue;
    // Positions come from the key bits that the entry keeps, so it can be placed again alone.
    size_t pos = (entry >> 32) & mask;
    while (table.slots[pos] != 0) pos = (pos + 1) & mask;
    table.slots[pos] = entry;
  }
}

std::span<const uint32_t> NearDupIndex::stored(uint32_t id, bool& is_signature) const {
  const uint64_t ref = refs_[id];
  const uint32_t size = summaries_[id].size;
  is_signature = (size & kSignatureFlag) != 0;
  const size_t count = is_signature ? hasher_.num_perm() : size;
  return {chunks_[ref >> 32].data() + (ref & 0xffffffffU), count};
}

uint64_t NearDupIndex::bits_of(std::span<const uint32_t> shingles) {
  uint64_t bits = 0;
  for (uint32_t shingle : shingles) bits |= uint64_t{1} << (shingle & 63);
  return bits;
}

NearDupIndex::Values NearDupIndex::values_of(uint32_t id) const {
  bool is_signature = false;
  std::span<const uint32_t> values = stored(id, is_signature);
  const Summary& summary = summaries_[id];
  Values out;
  (is_signature ? out.signature : out.shingles) = values;
  out.shingle_count = summary.size & ~kSignatureFlag;
  out.bits = summary.bits;
  return out;
}

double NearDupIndex::similarity(const MinHasher& hasher, double threshold, const Values& record,
                                const Values& other, std::vector<uint32_t>& scratch) {
  if (!may_reach_threshold(record.bits, record.shingle_count, other.bits, other.shingle_count,
                           threshold)) {
    return -1;
  }
  const size_t num_perm = hasher.num_perm();
  if (record.shingle_count <= num_perm && other.shingle_count <= num_perm) {
    return jaccard_at_least(record.shingles, other.shingles, threshold);
  }
  scratch.resize(2 * num_perm);
  auto signature_of = [&](const Values& values, uint32_t* out) -> std::span<const uint32_t> {
    if (!values.signature.empty()) return values.signature;
    hasher.signature(values.shingles, out);
    return {out, num_perm};
  };
  // Called twice in one expression, the order of the calls would not matter: each has its half.
  std::span<const uint32_t> a = signature_of(record, scratch.data());
  std::span<const uint32_t> b = signature_of(other, scratch.data() + num_perm);
  return estimate_jaccard(a, b);
}

// Why in stages, each with its prefetches first: templated texts give a record a hundred
// candidates, each stored in a random place; asking for all the memory a stage needs before using
// any of it lets the fetches overlap, instead of stalling on one cache miss after another.
std::optional<NearDupIndex::Match> NearDupIndex::find(std::span<const uint32_t> shingles,
                                                      std::span<const uint32_t> signature) {
  hashes_.resize(lsh_.bands);
  for (size_t band = 0; band < lsh_.bands; ++band) {
    hashes_[band] = band_hash(signature, band);
    const Table& table = tables_[band];
    __builtin_prefetch(&table.slots[(hashes_[band] >> 32) & (table.slots.size() - 1)]);
  }
  candidates_.clear();
  for (size_t band = 0; band < lsh_.bands; ++band) {
    const Table& table = tables_[band];
    const uint32_t key = key_of(hashes_[band]);
    const size_t mask = table.slots.size() - 1;
    for (size_t pos = (hashes_[band] >> 32) & mask; table.slots[pos] != 0; pos = (pos + 1) & mask) {
      const uint64_t entry = table.slots[pos];
      const auto slot = static_cast<uint32_t>(entry);
      if (key_of(entry) == key && slot != kDroppedSlot) candidates_.push_back(slot - 1);
    }
  }
  for (uint32_t id : candidates_) __builtin_prefetch(&summaries_[id]);
  Values record;
  record.shingles = shingles.size() <= hasher_.num_perm() ? shingles : std::span<const uint32_t>();
  record.signature = signature;
  record.shingle_count = static_cast<uint32_t>(shingles.size());
  record.bits = bits_of(shingles);
  size_t kept = 0;
  for (uint32_t id : candidates_) {
    const Summary& other = summaries_[id];
    if (may_reach_threshold(record.bits, record.shingle_count, other.bits,
                            other.size & ~kSignatureFlag, threshold_)) {
      candidates_[kept++] = id;
    }
  }
  candidates_.resize(kept);
  // A record found through several bands is judged once; few are left to sort by now.
  std::sort(candidates_.begin(), candidates_.end());
  candidates_.erase(std::unique(candidates_.begin(), candidates_.end()), candidates_.end());
  for (uint32_t id : candidates_) __builtin_prefetch(&refs_[id]);
  // The stored values are fetched a few candidates ahead of their use.
  constexpr size_t kAhead = 8;
  auto prefetch_values = [&](size_t i) {
    if (i >= candidates_.size()) return;
    bool is_signature = false;
    const uint32_t* values = stored(candidates_[i], is_signature).data();
    __builtin_prefetch(values);
    __builtin_prefetch(values + 16);
  };
  for (size_t i = 0; i < kAhead; ++i) prefetch_values(i);

  std::optional<Match> best;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    prefetch_values(i + kAhead);
    const uint32_t id = candidates_[i];
    const double s = similarity(hasher_, threshold_, record, values_of(id), scratch_);
    if (s + 1e-12 < threshold_) continue;
    if (!best || s > best->similarity) best = Match{id, s};  // ids ascend: ties keep the earliest
  }
  return best;
}

uint32_t NearDupIndex::add(std::span<const uint32_t> shingles,
                           std::span<const uint32_t> signature) {
  if (refs_.size() >= kMaxRecords) {
    throw Error("dedup: more than " + std::to_string(kMaxRecords) + " distinct records");
  }
  const auto id = static_cast<uint32_t>(refs_.size());
  const bool as_signature = shingles.size() > hasher_.num_perm();
  std::span<const uint32_t> values = as_signature ? signature : shingles;

  const size_t chunk_values = std::max(kChunkValues, hasher_.num_perm());
  if (chunks_.empty() || chunks_.back().size() + values.size() > chunk_values) {
    chunks_.emplace_back();
    chunks_.back().reserve(chunk_values);
  }
  std::vector<uint32_t>& chunk = chunks_.back();
  refs_.push_back(static_cast<uint64_t>(chunks_.size() - 1) << 32 | chunk.size());
  chunk.insert(chunk.end(), values.begin(), values.end());
  summaries_.push_back({bits_of(shingles), static_cast<uint32_t>(shingles.size()) |
                                               (as_signature ? kSignatureFlag : 0)});

  enter_bands(signature, id + 1);
  return id;
}

void NearDupIndex::add_dropped(std::span<const uint32_t> signature) {
  enter_bands(signature, kDroppedSlot);
}

void NearDupIndex::enter_bands(std::span<const uint32_t> signature, uint32_t slot) {
  for (size_t band = 0; band < lsh_.bands; ++band) {
    Table& table = tables_[band];
    if (table_full(table.used + 1, table.slots.size())) grow(table);
    const uint64_t hash = band_hash(signature, band);
    const uint32_t key = key_of(hash);
    const size_t mask = table.slots.size() - 1;
    size_t same = 0;
    size_t pos = (hash >> 32) & mask;
    for (; table.slots[pos] != 0; pos = (pos + 1) & mask) same += key_of(table.slots[pos]) == key;
    if (same >= kMaxBucket) continue;
    table.slots[pos] = static_cast<uint64_t>(key) << 32 | slot;
    ++table.used;
  }
}

GrowthBytes NearDupIndex::growth(size_t more) const {
  // Each record enters every band's table, so all of them may double in one batch.
  GrowthBytes g;
  for (const Table& table : tables_) g.table(table.slots.size(), table.used, more, 8);
  g.vector(refs_.size(), refs_.capacity(), more, sizeof(uint64_t));
  g.vector(summaries_.size(), summaries_.capacity(), more, sizeof(Summary));
  // A record stores at most num_perm values (its shingles, else its signature), in chunks that
  // are reserved whole.
  const size_t chunk_values = std::max(kChunkValues, hasher_.num_perm());
  g.after += (chunks_.size() + 1) * chunk_values * 4 + more * hasher_.num_perm() * 4;
  return g;
}

size_t NearDupIndex::memory_bytes() const {
  size_t bytes = refs_.capacity() * sizeof(uint64_t) + summaries_.capacity() * sizeof(Summary);
  for (const Table& table : tables_) bytes += table.slots.capacity() * 8;
  for (const auto& chunk : chunks_) bytes += chunk.capacity() * 4;
  return bytes;
}

}  // namespace personagen
