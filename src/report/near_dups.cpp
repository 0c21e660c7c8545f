#include "report/near_dups.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string_view>

#include "util/hash.h"

namespace personagen {
namespace {

// Band tables at most half full, so probes stay short; they grow with the sample.
size_t table_size(size_t records) {
  return std::max<size_t>(64, std::bit_ceil(2 * records + 2));
}

constexpr double kEstimateMargin = 0.2;

uint64_t draw_of(uint64_t index, uint64_t seed) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(index >> (8 * i));
  return hash64(std::string_view(bytes, 8), seed);
}

}  // namespace

NearDupSampler::NearDupSampler(const MinHasher& hasher, std::vector<double> thresholds,
                               size_t capacity, uint64_t seed)
    : hasher_(hasher),
      num_perm_(hasher.num_perm()),
      capacity_(std::max<size_t>(capacity, 1)),
      seed_(seed) {
  for (double threshold : thresholds) {
    Bands& b = bands_.emplace_back();
    b.threshold = threshold;
    b.lsh = choose_lsh_bands(num_perm_, threshold);
    b.tables.assign(b.lsh.bands, std::vector<uint64_t>(table_size(0), 0));
  }
}

uint32_t NearDupSampler::band_key(std::span<const uint32_t> signature, const LshBands& lsh,
                                  size_t band) const {
  const uint32_t* rows = signature.data() + band * lsh.rows;
  const uint64_t h = hash64(
      std::string_view(reinterpret_cast<const char*>(rows), lsh.rows * sizeof(uint32_t)), band);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

bool NearDupSampler::similar(const Sampled& s, std::span<const uint32_t> shingles,
                             std::span<const uint32_t> signature, double threshold) const {
  const uint32_t* values = values_.data() + s.first;
  const double estimate =
      estimate_jaccard({values + (s.kept_shingles ? s.shingles : 0), num_perm_}, signature);
  if (!s.kept_shingles || shingles.size() > num_perm_) return estimate >= threshold;
  // Most candidates are far below the threshold: their estimate turns them away without the
  // exact count, at a margin of over 3.5 standard errors for 64 values.
  if (estimate < threshold - kEstimateMargin) return false;
  return exact_jaccard({values, s.shingles}, shingles) >= threshold;
}

void NearDupSampler::add(uint64_t index, std::span<const uint32_t> shingles,
                         std::span<const uint32_t> signature) {
  // A text of more shingles than signature values is compared by the signature's estimate.
  estimated_ = estimated_ || shingles.size() > num_perm_;
  if (!records_.empty()) lookup(shingles, signature);
  const uint64_t draw = draw_of(index, seed_);
  if (draw > limit_) return;
  Sampled& s = records_.emplace_back();
  s.draw = draw;
  s.first = static_cast<uint32_t>(values_.size());
  s.shingles = static_cast<uint32_t>(shingles.size());
  s.kept_shingles = shingles.size() <= num_perm_;
  if (s.kept_shingles) values_.insert(values_.end(), shingles.begin(), shingles.end());
  values_.insert(values_.end(), signature.begin(), signature.begin() + num_perm_);
  for (size_t i = 0; i < num_perm_; ++i) low_bytes_.push_back(static_cast<uint8_t>(signature[i]));
  if (records_.size() > capacity_) {
    shrink();
  } else if (table_size(records_.size()) > bands_[0].tables[0].size()) {
    rebuild();
  } else {
    insert(static_cast<uint32_t>(records_.size() - 1));
  }
}

double NearDupSampler::rough_similarity(uint32_t id) const {
  const uint8_t* stored = low_bytes_.data() + size_t{id} * num_perm_;
  size_t equal = 0;
  for (size_t i = 0; i < num_perm_; ++i) equal += stored[i] == query_bytes_[i];
  return static_cast<double>(equal) / static_cast<double>(num_perm_);
}

void NearDupSampler::lookup(std::span<const uint32_t> shingles,
                            std::span<const uint32_t> signature) {
  query_bytes_.resize(num_perm_);
  for (size_t i = 0; i < num_perm_; ++i) query_bytes_[i] = static_cast<uint8_t>(signature[i]);
  for (size_t t = 0; t < bands_.size(); ++t) {
    const Bands& b = bands_[t];
    const uint32_t bit = uint32_t{1} << t;
    if (++lookups_ == 0) {  // the stamps wrapped around: none is current
      for (Sampled& s : records_) s.seen = 0;
      lookups_ = 1;
    }
    for (size_t band = 0; band < b.lsh.bands; ++band) {
      const std::vector<uint64_t>& table = b.tables[band];
      const size_t mask = table.size() - 1;
      const uint32_t key = band_key(signature, b.lsh, band);
      for (size_t i = key & mask; table[i] != 0; i = (i + 1) & mask) {
        if (static_cast<uint32_t>(table[i] >> 32) != key) continue;
        const uint32_t id = static_cast<uint32_t>(table[i]) - 1;
        Sampled& s = records_[id];
        if ((s.marked & bit) || s.seen == lookups_) continue;
        s.seen = lookups_;
        if (rough_similarity(id) >= b.threshold - kEstimateMargin &&
            similar(s, shingles, signature, b.threshold)) {
          s.marked |= bit;
          ++bands_[t].stale;
        }
      }
    }
    // Once half the entries are marked, walking past them costs more than a rebuild.
    if (bands_[t].stale > 64 && 2 * bands_[t].stale > bands_[t].entries) rebuild(t);
  }
}

void NearDupSampler::insert(uint32_t id) {
  for (size_t t = 0; t < bands_.size(); ++t) insert(id, t);
}

void NearDupSampler::insert(uint32_t id, size_t t) {
  const Sampled& s = records_[id];
  if (s.marked & (uint32_t{1} << t)) return;
  std::span<const uint32_t> signature(values_.data() + s.first + (s.kept_shingles ? s.shingles : 0),
                                      num_perm_);
  Bands& b = bands_[t];
  for (size_t band = 0; band < b.lsh.bands; ++band) {
    std::vector<uint64_t>& table = b.tables[band];
    const size_t mask = table.size() - 1;
    const uint32_t key = band_key(signature, b.lsh, band);
    size_t i = key & mask;
    while (table[i] != 0) i = (i + 1) & mask;
    table[i] = uint64_t{key} << 32 | (id + 1);
  }
  ++b.entries;
}

void NearDupSampler::rebuild(size_t t) {
  Bands& b = bands_[t];
  for (std::vector<uint64_t>& table : b.tables) std::fill(table.begin(), table.end(), 0);
  b.entries = b.stale = 0;
  for (size_t id = 0; id < records_.size(); ++id) insert(static_cast<uint32_t>(id), t);
}

void NearDupSampler::shrink() {
  size_t kept = records_.size();
  while (kept > capacity_) {
    limit_ >>= 1;
    kept = 0;
    for (const Sampled& s : records_) kept += s.draw <= limit_;
  }
  // Compact the survivors and their values, in stream order.
  std::vector<Sampled> records;
  std::vector<uint32_t> values;
  std::vector<uint8_t> low_bytes;
  records.reserve(capacity_ + 1);
  for (size_t id = 0; id < records_.size(); ++id) {
    const Sampled& s = records_[id];
    if (s.draw > limit_) continue;
    const uint8_t* bytes = low_bytes_.data() + id * num_perm_;
    low_bytes.insert(low_bytes.end(), bytes, bytes + num_perm_);
    Sampled& copy = records.emplace_back(s);
    copy.first = static_cast<uint32_t>(values.size());
    const size_t count = (s.kept_shingles ? s.shingles : 0) + num_perm_;
    values.insert(values.end(), values_.begin() + s.first, values_.begin() + s.first + count);
  }
  records_.swap(records);
  values_.swap(values);
  low_bytes_.swap(low_bytes);
  rebuild();
}

void NearDupSampler::rebuild() {
  const size_t size = table_size(records_.size());
  for (Bands& b : bands_) {
    for (std::vector<uint64_t>& table : b.tables) table.assign(size, 0);
    b.entries = b.stale = 0;
  }
  for (size_t id = 0; id < records_.size(); ++id) insert(static_cast<uint32_t>(id));
}

Estimate NearDupSampler::rate(size_t t) const {
  Estimate e;
  const uint32_t bit = uint32_t{1} << t;
  uint64_t marked = 0;
  for (const Sampled& s : records_) marked += (s.marked & bit) != 0;
  const auto n = static_cast<double>(records_.size());
  const double p = records_.empty() ? 0 : static_cast<double>(marked) / n;
  e.value = p;
  e.exact = complete() && !estimated_;
  if (complete()) {
    e.method = estimated_ ? "minhash, long texts by their signature's estimate" : "exact minhash";
    return e;
  }
  // The 95% Wilson interval of the sampled share, as a bound either side of it: unlike the
  // normal approximation, it is not 0 when no sampled record (or every one) has a duplicate.
  constexpr double z = 1.96;
  const double centre = (p + z * z / (2 * n)) / (1 + z * z / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n);
  e.error = std::max(centre + half - p, p - (centre - half));
  e.method = std::string("minhash sample (Wilson bound)") +
             (estimated_ ? ", long texts by their signature's estimate" : "");
  return e;
}

}  // namespace personagen
