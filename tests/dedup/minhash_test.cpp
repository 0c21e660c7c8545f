#include "dedup/minhash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dedup/near_dup_index.h"
#include "dedup/text_normalize.h"
#include "personagen/error.h"

namespace personagen {
namespace {

std::vector<uint32_t> shingles_of(const std::string& text, size_t ngram = 1) {
  std::vector<uint32_t> shingles;
  shingle_text(normalize_text(text), ngram, shingles);
  return shingles;
}

std::vector<uint32_t> signature_of(const MinHasher& hasher, const std::vector<uint32_t>& set) {
  std::vector<uint32_t> signature(hasher.num_perm());
  hasher.signature(set, signature.data());
  return signature;
}

// A sorted set of `size` random values, of which the first `shared` are taken from `common`.
std::vector<uint32_t> random_set(std::mt19937_64& rng, const std::vector<uint32_t>& common,
                                 size_t shared, size_t size) {
  std::vector<uint32_t> set(common.begin(), common.begin() + shared);
  while (set.size() < size) set.push_back(static_cast<uint32_t>(rng()));
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  return set;
}

TEST(NormalizeText, ComposesFoldsCaseAndCollapsesWhiteSpace) {
  // Given the same words as precomposed and decomposed Unicode, in other cases and spacing
  const std::string composed = "Caf\u00e9 Owner";
  const std::string decomposed = "  cafe\u0301\t\n OWNER  ";

  // When both are normalized
  // Then they are the same bytes: NFC, case folded, one space between words, trimmed
  EXPECT_EQ(normalize_text(composed), "caf\u00e9 owner");
  EXPECT_EQ(normalize_text(decomposed), "caf\u00e9 owner");
}

TEST(NormalizeText, TreatsUnicodeSeparatorsAsWhiteSpaceAndFoldsBeyondAscii) {
  // Given an ideographic space, a no-break space, a line separator and letters with case
  // When normalized
  // Then the separators are single spaces and the letters are case-folded
  EXPECT_EQ(normalize_text("STRASSE\u3000\u00a0stra\u00dfe\u2028\u00c9COLE"),
            "strasse strasse \u00e9cole");
  EXPECT_EQ(normalize_text(" \t "), "");
}

TEST(NormalizeText, KeepsInvalidUtf8AsBytes) {
  // Given text that is not valid UTF-8
  // When normalized
  // Then ASCII is still folded and the odd byte kept, rather than failing
  EXPECT_EQ(normalize_text("AB\xff  C"), "ab\xff c");
}

TEST(SplitWords, StripsAsciiPunctuationAtWordEdges) {
  // Given a normalized sentence with punctuation
  std::vector<std::string_view> words;

  // When split
  split_words("a chess-player, (teacher) -- loves \"jazz\"!", words);

  // Then inner punctuation stays, edge punctuation goes, pure punctuation is no word
  std::vector<std::string_view> expected = {"a", "chess-player", "teacher", "loves", "jazz"};
  EXPECT_EQ(words, expected);
}

TEST(ShingleText, GivesSortedDistinctHashesOfWordNgrams) {
  // Given a text with a repeated word
  // When shingled as 1-grams and 2-grams
  std::vector<uint32_t> one = shingles_of("the cat and the hat");
  std::vector<uint32_t> two = shingles_of("the cat and the hat", 2);

  // Then repeats count once, the hashes are sorted, and punctuation or case change nothing
  EXPECT_EQ(one.size(), 4u);
  EXPECT_TRUE(std::is_sorted(one.begin(), one.end()));
  EXPECT_EQ(two.size(), 4u);
  EXPECT_EQ(one, shingles_of("The cat, and THE hat."));
  EXPECT_NE(two, shingles_of("hat the and cat the", 2));
}

TEST(ShingleText, ShortTextIsOneShingleAndNoWordsNone) {
  // Given texts shorter than the n-gram, and one without words
  // When shingled as 3-grams
  // Then the short ones are one shingle each, and the empty one has none
  EXPECT_EQ(shingles_of("two words", 3).size(), 1u);
  EXPECT_NE(shingles_of("two words", 3), shingles_of("words two", 3));
  EXPECT_TRUE(shingles_of("-- !! ...", 3).empty());
}

TEST(MinHasher, SignaturesAreDeterministicPerSeed) {
  // Given two hashers with the same seed and one with another
  MinHasher a(128, 7), b(128, 7), c(128, 8);
  std::vector<uint32_t> set = shingles_of("a retired nurse who volunteers at the library");

  // When they sign the same set
  // Then the same seed gives the same signature and another seed a different one
  EXPECT_EQ(signature_of(a, set), signature_of(b, set));
  EXPECT_NE(signature_of(a, set), signature_of(c, set));
  EXPECT_EQ(signature_of(a, set).size(), 128u);
}

TEST(MinHasher, SignatureOfNoShinglesIsAllOnes) {
  // Given a hasher
  MinHasher hasher(16, 1);
  // When it signs the empty set
  // Then every value is the maximum
  EXPECT_EQ(signature_of(hasher, {}), std::vector<uint32_t>(16, 0xffffffffu));
  EXPECT_THROW(MinHasher(0, 1), Error);
}

TEST(MinHasher, EstimateTracksExactJaccard) {
  // Given 200 random pairs of sets of 20..80 values with every amount of overlap
  MinHasher hasher(128, 42);
  std::mt19937_64 rng(1);
  double total_error = 0;
  int within = 0;
  const int kPairs = 200;
  for (int i = 0; i < kPairs; ++i) {
    const size_t size = 20 + rng() % 61;
    const size_t shared = rng() % (size + 1);
    std::vector<uint32_t> common;
    for (size_t k = 0; k < shared; ++k) common.push_back(static_cast<uint32_t>(rng()));
    std::vector<uint32_t> a = random_set(rng, common, shared, size);
    std::vector<uint32_t> b = random_set(rng, common, shared, size);

    // When the estimate is compared with the exact value
    double error = std::abs(estimate_jaccard(signature_of(hasher, a), signature_of(hasher, b)) -
                            exact_jaccard(a, b));
    total_error += error;
    within += error < 0.1;
  }

  // Then it is close: within 0.1 almost always (the standard error is at most 0.044), and
  // 0.035 off on average
  EXPECT_GE(within, kPairs * 97 / 100);
  EXPECT_LT(total_error / kPairs, 0.04);
}

TEST(ExactJaccard, CountsIntersectionOverUnion) {
  // Given sorted sets
  // When compared
  // Then the result is |a & b| / |a | b|
  EXPECT_DOUBLE_EQ(
      exact_jaccard(std::vector<uint32_t>{1, 2, 3, 4}, std::vector<uint32_t>{2, 3, 4, 5, 6}),
      3.0 / 6.0);
  EXPECT_DOUBLE_EQ(exact_jaccard(std::vector<uint32_t>{}, std::vector<uint32_t>{}), 1.0);
  EXPECT_DOUBLE_EQ(exact_jaccard(std::vector<uint32_t>{1}, std::vector<uint32_t>{}), 0.0);
}

TEST(ChooseLshBands, CatchesPairsAtTheThresholdWithAtLeast99Percent) {
  // Given the paper's settings
  // When the banding is chosen
  LshBands lsh = choose_lsh_bands(128, 0.9);

  // Then it catches pairs at 0.9 with >= 99% probability, uses at most 128 values, and one
  // more row would miss that target
  EXPECT_EQ(lsh.bands, 12u);
  EXPECT_EQ(lsh.rows, 10u);
  EXPECT_GE(lsh_catch_probability(0.9, lsh), 0.99);
  EXPECT_LT(lsh_catch_probability(0.9, {128 / 11, 11}), 0.99);
  // and pairs well below the threshold rarely become candidates
  EXPECT_LT(lsh_catch_probability(0.5, lsh), 0.02);
}

TEST(ChooseLshBands, MeetsTheTargetForOtherSettings) {
  // Given other permutation counts and thresholds
  for (size_t num_perm : {16u, 64u, 100u, 128u, 256u}) {
    for (double threshold : {0.5, 0.7, 0.8, 0.9, 0.95}) {
      // When the banding is chosen
      LshBands lsh = choose_lsh_bands(num_perm, threshold);
      // Then it fits the signature and reaches 99% at the threshold
      EXPECT_LE(lsh.bands * lsh.rows, num_perm);
      EXPECT_GE(lsh_catch_probability(threshold, lsh), 0.99)
          << num_perm << " " << threshold << ": " << lsh.bands << "x" << lsh.rows;
    }
  }
  // and an impossible target is a usage error
  EXPECT_THROW(choose_lsh_bands(2, 0.1, 0.999999), Error);
}

TEST(NearDupIndex, FindsTheMostSimilarKeptRecordAboveTheThreshold) {
  // Given an index holding two records
  MinHasher hasher(128, 1);
  NearDupIndex index(hasher, choose_lsh_bands(128, 0.8), 0.8);
  auto add = [&](const std::string& text) {
    std::vector<uint32_t> set = shingles_of(text);
    return index.add(set, signature_of(hasher, set));
  };
  auto find = [&](const std::string& text) {
    std::vector<uint32_t> set = shingles_of(text);
    return index.find(set, signature_of(hasher, set));
  };
  EXPECT_EQ(add("one two three four five six seven eight nine ten"), 0u);
  EXPECT_EQ(add("alpha beta gamma delta epsilon zeta eta theta iota kappa"), 1u);

  // When texts near one of them, and far from both, are looked up
  auto near = find("one two three four five six seven eight nine ten eleven");
  auto far = find("one two three four five alpha beta gamma delta epsilon");

  // Then the near one matches with its exact Jaccard and the far one matches nothing
  ASSERT_TRUE(near.has_value());
  EXPECT_EQ(near->id, 0u);
  EXPECT_DOUBLE_EQ(near->similarity, 10.0 / 11.0);
  EXPECT_FALSE(far.has_value());
  EXPECT_EQ(index.size(), 2u);
}

TEST(NearDupIndex, JudgesLongTextsByTheirSignatures) {
  // Given a kept text of 400 distinct words, more shingles than the signature has values
  MinHasher hasher(128, 3);
  NearDupIndex index(hasher, choose_lsh_bands(128, 0.9), 0.9);
  std::string text, edited;
  for (int i = 0; i < 400; ++i) {
    text += "w" + std::to_string(i) + " ";
    edited += (i == 17 ? std::string("changed") : "w" + std::to_string(i)) + " ";
  }
  std::vector<uint32_t> set = shingles_of(text);
  index.add(set, signature_of(hasher, set));

  // When a copy with one word changed (Jaccard 399/401) is looked up
  std::vector<uint32_t> edited_set = shingles_of(edited);
  auto match = index.find(edited_set, signature_of(hasher, edited_set));

  // Then it matches, with the estimate close to the truth
  ASSERT_TRUE(match.has_value());
  EXPECT_NEAR(match->similarity, 399.0 / 401.0, 0.05);
}

TEST(NearDupIndex, ABucketHoldsTheFirst64RecordsKeptOrDropped) {
  // Given one band, and 64 records dropped as near duplicates entered in its bucket first
  MinHasher hasher(16, 5);
  NearDupIndex index(hasher, LshBands{1, 16}, 0.5);
  std::vector<uint32_t> set = shingles_of("the same text in every record");
  std::vector<uint32_t> signature = signature_of(hasher, set);
  for (int i = 0; i < 64; ++i) index.add_dropped(signature);

  // When a record with the same band is kept after them, and its copy is looked up
  EXPECT_EQ(index.add(set, signature), 0u);
  auto match = index.find(set, signature);

  // Then the kept record is no candidate: the bucket was full, of records that are not candidates
  // either, so the in-memory index finds what the staged dedup (which cannot know which records
  // will be kept when it forms buckets) finds
  EXPECT_FALSE(match.has_value());
}

TEST(NearDupIndex, DroppedRecordsAreNoCandidates) {
  // Given a record dropped as a near duplicate and then a different kept one, in the same bucket
  MinHasher hasher(16, 5);
  NearDupIndex index(hasher, LshBands{1, 16}, 0.5);
  std::vector<uint32_t> set = shingles_of("one two three four");
  std::vector<uint32_t> signature = signature_of(hasher, set);
  index.add_dropped(signature);
  EXPECT_EQ(index.add(set, signature), 0u);

  // When its copy is looked up, then it matches the kept record, id 0
  auto match = index.find(set, signature);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->id, 0u);
  EXPECT_EQ(index.size(), 1u);
}

TEST(NearDupIndex, GrowthForeseesWhatABatchTakesAndTheDoublingsOnTheWay) {
  // Given an empty index, and batches of 1,000 distinct records
  MinHasher hasher(128, 1);
  NearDupIndex index(hasher, choose_lsh_bands(128, 0.9), 0.9);
  std::mt19937 rng(5);
  bool saw_doubling = false;
  for (int batch = 0; batch < 20; ++batch) {
    // When its growth is asked before each batch
    const GrowthBytes g = index.growth(1000);
    saw_doubling |= g.moving > 0;
    for (int i = 0; i < 1000; ++i) {
      std::vector<uint32_t> set(5);
      for (uint32_t& v : set) v = static_cast<uint32_t>(rng());
      std::sort(set.begin(), set.end());
      index.add(set, signature_of(hasher, set));
    }
    // Then what it holds after the batch is within the forecast
    EXPECT_LE(index.memory_bytes(), g.after) << "batch " << batch;
  }
  EXPECT_TRUE(saw_doubling);
}

TEST(GrowthBytes, CountsTheDoubledSizeAndTheOldBufferWhileItMoves) {
  GrowthBytes g;
  g.table(16, 11, 0, 8);  // 11 of 16: within 70%, no growth
  EXPECT_EQ(g.after, 128u);
  EXPECT_EQ(g.moving, 0u);
  g.table(16, 11, 1, 8);  // the 12th passes 70%: 32 slots, while the old 16 move
  EXPECT_EQ(g.after, 128u + 256u);
  EXPECT_EQ(g.moving, 128u);
  g.vector(4, 4, 5, 4);  // 9 elements: 16, the last move from 8
  EXPECT_EQ(g.after, 128u + 256u + 64u);
  EXPECT_EQ(g.moving, 128u);
  EXPECT_EQ(g.peak(), g.after + 128u);
}

}  // namespace
}  // namespace personagen
