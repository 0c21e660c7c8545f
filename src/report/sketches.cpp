#include "report/sketches.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace personagen {
namespace {

constexpr size_t kRegisters = size_t{1} << HyperLogLog::kPrecision;
// Bits of a hash left for the rank once the register index is taken.
constexpr int kRankBits = 64 - HyperLogLog::kPrecision;

// Ertl's sigma and tau (2017, Algorithm 6): the corrections for registers still at zero and for
// registers at the largest rank.
double hll_sigma(double x) {
  if (x == 1) return std::numeric_limits<double>::infinity();
  double y = 1, z = x, previous = 0;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (z != previous);
  return z;
}

double hll_tau(double x) {
  if (x == 0 || x == 1) return 0;
  double y = 1, z = 1 - x, previous = 0;
  do {
    x = std::sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (z != previous);
  return z / 3;
}

}  // namespace

HyperLogLog::HyperLogLog() : registers_(kRegisters, 0) {}

void HyperLogLog::add(uint64_t hash) {
  const size_t index = hash >> kRankBits;
  const uint64_t rest = hash << kPrecision;
  const auto rank = static_cast<uint8_t>(rest == 0 ? kRankBits + 1 : std::countl_zero(rest) + 1);
  registers_[index] = std::max(registers_[index], rank);
}

double HyperLogLog::estimate() const {
  std::vector<double> histogram(kRankBits + 2, 0);
  for (uint8_t rank : registers_) histogram[rank] += 1;
  const auto m = static_cast<double>(kRegisters);
  if (histogram[0] == m) return 0;
  double z = m * hll_tau(1 - histogram[kRankBits + 1] / m);
  for (int k = kRankBits; k >= 1; --k) z = 0.5 * (z + histogram[k]);
  z += m * hll_sigma(histogram[0] / m);
  return m * m / (2 * std::log(2.0)) / z;
}

double HyperLogLog::relative_error() {
  return 1.96 * 1.04 / std::sqrt(static_cast<double>(kRegisters));
}

DistinctCounter::DistinctCounter(size_t exact_limit) : exact_limit_(exact_limit), slots_(1024, 0) {}

void DistinctCounter::add(uint64_t hash) {
  if (!exact_) return sketch_.add(hash);
  if (hash == 0) {
    has_zero_ = true;
  } else {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      if (slots_[i] == hash) return;
      if (slots_[i] == 0) {
        slots_[i] = hash;
        ++used_;
        break;
      }
    }
    if (used_ * 2 > slots_.size()) grow();
  }
  if (used_ + has_zero_ > exact_limit_) overflow();
}

void DistinctCounter::grow() {
  std::vector<uint64_t> old(slots_.size() * 2, 0);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (uint64_t hash : old) {
    if (hash == 0) continue;
    size_t i = hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = hash;
  }
}

void DistinctCounter::overflow() {
  for (uint64_t hash : slots_)
    if (hash != 0) sketch_.add(hash);
  if (has_zero_) sketch_.add(0);
  exact_ = false;
  std::vector<uint64_t>().swap(slots_);
}

Estimate DistinctCounter::count() const {
  Estimate e;
  if (exact_) {
    e.value = static_cast<double>(used_ + has_zero_);
    e.method = "exact";
    return e;
  }
  e.value = sketch_.estimate();
  e.error = e.value * HyperLogLog::relative_error();
  e.exact = false;
  e.method = HyperLogLog::kMethod;
  return e;
}

size_t TopCounter::Hash::operator()(std::string_view key) const {
  return static_cast<size_t>(hash64(key));
}

TopCounter::TopCounter(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {
  counters_.reserve(capacity_);
  heap_.reserve(capacity_);
}

void TopCounter::add(std::string_view key) {
  if (auto it = ids_.find(key); it != ids_.end()) {
    Counter& counter = counters_[it->second];
    ++counter.count;
    sift_down(counter.heap_pos);
    return;
  }
  if (counters_.size() < capacity_) {
    const auto id = static_cast<uint32_t>(counters_.size());
    counters_.push_back({std::string(key), 1, 0, heap_.size()});
    heap_.push_back(id);
    sift_up(heap_.size() - 1);
    ids_.emplace(counters_.back().key, id);
    return;
  }
  // The smallest counter changes hands: the new key may have been seen that often before.
  exact_ = false;
  const uint32_t id = heap_[0];
  Counter& counter = counters_[id];
  ids_.erase(counter.key);
  counter.key.assign(key);
  counter.error = counter.count;
  ++counter.count;
  ids_.emplace(counter.key, id);
  sift_down(0);
}

void TopCounter::sift_up(size_t pos) {
  const uint32_t id = heap_[pos];
  const uint64_t count = counters_[id].count;
  while (pos > 0) {
    const size_t parent = (pos - 1) / 2;
    if (counters_[heap_[parent]].count <= count) break;
    heap_[pos] = heap_[parent];
    counters_[heap_[pos]].heap_pos = pos;
    pos = parent;
  }
  heap_[pos] = id;
  counters_[id].heap_pos = pos;
}

void TopCounter::sift_down(size_t pos) {
  const size_t n = heap_.size();
  const uint32_t id = heap_[pos];
  const uint64_t count = counters_[id].count;
  for (;;) {
    size_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && counters_[heap_[child + 1]].count < counters_[heap_[child]].count) ++child;
    if (counters_[heap_[child]].count >= count) break;
    heap_[pos] = heap_[child];
    counters_[heap_[pos]].heap_pos = pos;
    pos = child;
  }
  heap_[pos] = id;
  counters_[id].heap_pos = pos;
}

std::vector<TopEntry> TopCounter::top(size_t k, uint64_t total) const {
  std::vector<const Counter*> order;
  order.reserve(counters_.size());
  for (const Counter& counter : counters_) order.push_back(&counter);
  auto before = [](const Counter* a, const Counter* b) {
    return a->count != b->count ? a->count > b->count : a->key < b->key;
  };
  k = std::min(k, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    before);
  std::vector<TopEntry> entries;
  for (size_t i = 0; i < k; ++i) {
    const Counter& c = *order[i];
    double share = total ? static_cast<double>(c.count) / static_cast<double>(total) : 0;
    entries.push_back({c.key, c.count, share, c.error});
  }
  return entries;
}

uint64_t ValueCounts::total() const {
  uint64_t n = 0;
  for (const auto& [value, count] : counts_) n += count;
  return n;
}

Distribution ValueCounts::summary(size_t bins) const {
  Distribution d;
  d.count = total();
  if (d.count == 0) return d;
  const uint64_t low = counts_.begin()->first;
  const uint64_t high = counts_.rbegin()->first;
  double sum = 0;
  for (const auto& [value, count] : counts_)
    sum += static_cast<double>(value) * static_cast<double>(count);
  d.mean = sum / static_cast<double>(d.count);
  d.min = static_cast<double>(low);
  d.max = static_cast<double>(high);

  // Nearest rank: the value of the ceil(p * n)-th smallest value (1-based).
  auto percentile = [&](double p) {
    const auto rank = std::max<uint64_t>(
        1, static_cast<uint64_t>(std::ceil(p * static_cast<double>(d.count) - 1e-9)));
    uint64_t seen = 0;
    for (const auto& [value, count] : counts_) {
      seen += count;
      if (seen >= rank) return static_cast<double>(value);
    }
    return static_cast<double>(high);
  };
  d.p10 = percentile(0.10);
  d.p50 = percentile(0.50);
  d.p90 = percentile(0.90);
  d.p99 = percentile(0.99);

  bins = std::max<size_t>(bins, 1);
  const uint64_t span = high + 1 - low;
  const uint64_t width = (span + bins - 1) / bins;
  const uint64_t used = (span + width - 1) / width;
  for (uint64_t i = 0; i <= used; ++i)
    d.histogram.edges.push_back(static_cast<double>(low + i * width));
  d.histogram.counts.assign(used, 0);
  for (const auto& [value, count] : counts_) d.histogram.counts[(value - low) / width] += count;
  return d;
}

}  // namespace personagen
