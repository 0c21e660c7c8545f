#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace personagen {

// How locality-sensitive hashing cuts a MinHash signature: `bands` bands of `rows` values each,
// using the first bands * rows values. Two records become candidates when any band is equal.
struct LshBands {
  size_t bands = 0;
  size_t rows = 0;
};

// The probability that a pair with Jaccard similarity `similarity` is a candidate:
// 1 - (1 - s^rows)^bands.
double lsh_catch_probability(double similarity, LshBands lsh);

// The banding for `num_perm` values and a Jaccard `threshold`: of the choices with
// bands = floor(num_perm / rows) that catch pairs at the threshold with at least `min_catch`
// probability, the one with the most rows, which has the fewest false candidates (for 128 and
// 0.9: 12 bands of 10 rows, catching 99.4% of pairs at 0.9 and more above). Throws a usage
// Error if no banding reaches `min_catch`.
LshBands choose_lsh_bands(size_t num_perm, double threshold, double min_catch = 0.99);

// The shingles of a normalized text (see normalize_text): the sorted, distinct 32-bit hashes of
// its word n-grams, words as split_words gives them. A text of fewer than `ngram` words has one
// shingle, all its words; a text without words has none. `shingles` is overwritten.
void shingle_text(std::string_view normalized, size_t ngram, std::vector<uint32_t>& shingles);

// MinHash over 32-bit shingles with `num_perm` permutations h_i(x) = (a_i x + b_i) mod 2^61-1,
// with a_i in [1, 2^61-1) and b_i in [0, 2^61-1) drawn from `seed` by splitmix64: the same seed
// gives the same signatures on every machine. Its methods may be called from several threads.
class MinHasher {
 public:
  // Throws a usage Error if num_perm is 0.
  MinHasher(size_t num_perm, uint64_t seed);

  size_t num_perm() const { return b_.size(); }

  // Writes num_perm() values to `out`: for each permutation, the low 32 bits of its minimum
  // over `shingles`. Without shingles every value is 0xffffffff.
  void signature(std::span<const uint32_t> shingles, uint32_t* out) const;

 private:
  std::vector<uint64_t> a_high_, a_low_;  // a_i = a_high << 32 | a_low
  std::vector<uint64_t> b_;
};

// The fraction of positions where two signatures of the same length agree: an unbiased estimate
// of the Jaccard similarity of their shingle sets, within about sqrt(J(1-J)/num_perm).
double estimate_jaccard(std::span<const uint32_t> a, std::span<const uint32_t> b);

// |a ∩ b| / |a ∪ b| of two sorted sets without repeats; 1 when both are empty.
double exact_jaccard(std::span<const uint32_t> a, std::span<const uint32_t> b);

}  // namespace personagen
