#include "dedup/minhash.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "dedup/text_normalize.h"
#include "personagen/error.h"
#include "util/hash.h"

namespace personagen {
namespace {

constexpr uint64_t kMersenne61 = (uint64_t{1} << 61) - 1;

// a * x + b mod 2^61-1, for a, b < 2^61-1 and x < 2^32, in 64-bit arithmetic: a is split into
// its high 29 and low 32 bits, and 2^61 = 1 folds the products back.
inline uint64_t permute(uint64_t a_high, uint64_t a_low, uint64_t b, uint64_t x) {
  const uint64_t low = a_low * x;    // < 2^64
  const uint64_t high = a_high * x;  // < 2^61; stands for high * 2^32
  uint64_t r = (low & kMersenne61) + (low >> 61) + ((high & ((uint64_t{1} << 29) - 1)) << 32) +
               (high >> 29) + b;  // < 2^63
  r = (r & kMersenne61) + (r >> 61);
  return r >= kMersenne61 ? r - kMersenne61 : r;
}

}  // namespace

double lsh_catch_probability(double similarity, LshBands lsh) {
  return 1.0 - std::pow(1.0 - std::pow(similarity, static_cast<double>(lsh.rows)),
                        static_cast<double>(lsh.bands));
}

LshBands choose_lsh_bands(size_t num_perm, double threshold, double min_catch) {
  if (num_perm == 0) throw usage_error("--num-perm must be at least 1");
  LshBands best;
  for (size_t rows = 1; rows <= num_perm; ++rows) {
    LshBands lsh{num_perm / rows, rows};
    if (lsh_catch_probability(threshold, lsh) >= min_catch) best = lsh;
  }
  if (best.bands == 0) {
    throw usage_error("no banding of " + std::to_string(num_perm) +
                      " permutations catches pairs at the threshold " + std::to_string(threshold) +
                      " with probability " + std::to_string(min_catch) +
                      "; raise --num-perm or --threshold");
  }
  return best;
}

void shingle_text(std::string_view normalized, size_t ngram, std::vector<uint32_t>& shingles) {
  thread_local std::vector<std::string_view> words;
  thread_local std::string joined;
  shingles.clear();
  split_words(normalized, words);
  if (words.empty()) return;
  const size_t n = std::max<size_t>(1, std::min(ngram, words.size()));
  for (size_t i = 0; i + n <= words.size(); ++i) {
    uint64_t h = 0;
    if (n == 1) {
      h = hash64(words[i]);
    } else {
      joined.assign(words[i]);
      for (size_t k = 1; k < n; ++k) {
        joined += ' ';
        joined.append(words[i + k]);
      }
      h = hash64(joined);
    }
    shingles.push_back(static_cast<uint32_t>(h ^ (h >> 32)));
  }
  std::sort(shingles.begin(), shingles.end());
  shingles.erase(std::unique(shingles.begin(), shingles.end()), shingles.end());
}

MinHasher::MinHasher(size_t num_perm, uint64_t seed)
    : a_high_(num_perm), a_low_(num_perm), b_(num_perm) {
  if (num_perm == 0) throw usage_error("--num-perm must be at least 1");
  uint64_t state = seed;
  for (size_t i = 0; i < num_perm; ++i) {
    const uint64_t a = 1 + splitmix64(state) % (kMersenne61 - 1);
    a_high_[i] = a >> 32;
    a_low_[i] = a & 0xffffffffU;
    b_[i] = splitmix64(state) % kMersenne61;
  }
}

void MinHasher::signature(std::span<const uint32_t> shingles, uint32_t* out) const {
  thread_local std::vector<uint64_t> buffer;
  const size_t n = b_.size();
  buffer.assign(n, UINT64_MAX);
  uint64_t* mins = buffer.data();
  const uint64_t* a_high = a_high_.data();
  const uint64_t* a_low = a_low_.data();
  const uint64_t* b = b_.data();
  for (uint32_t x : shingles) {
    for (size_t i = 0; i < n; ++i)
      mins[i] = std::min(mins[i], permute(a_high[i], a_low[i], b[i], x));
  }
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint32_t>(mins[i]);
}

double estimate_jaccard(std::span<const uint32_t> a, std::span<const uint32_t> b) {
  const size_t n = std::min(a.size(), b.size());
  if (n == 0) return 0;
  size_t equal = 0;
  for (size_t i = 0; i < n; ++i) equal += a[i] == b[i];
  return static_cast<double>(equal) / static_cast<double>(n);
}

double exact_jaccard(std::span<const uint32_t> a, std::span<const uint32_t> b) {
  if (a.empty() && b.empty()) return 1;
  // A merge without branches on the data: the sets are short, and the comparisons
  // unpredictable.
  size_t common = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    const uint32_t x = a[i], y = b[j];
    common += x == y;
    i += x <= y;
    j += y <= x;
  }
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

}  // namespace personagen
