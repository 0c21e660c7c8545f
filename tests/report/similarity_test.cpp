#include "report/similarity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "test_server.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const std::atomic<int> kNoInterrupt{0};

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0;
}

TEST(SimilarityFromVectors, BinsPairsByPersonaCosineOverTheObservedRange) {
  // Given three records: the first two share a persona direction, the third's is orthogonal;
  // outputs (not all of norm 1) whose cosines are 0.6 (1,2), 0 (1,3) and 0.8 (2,3)
  std::vector<std::vector<float>> personas = {{1, 0}, {3, 0}, {0, 1}};
  std::vector<std::vector<float>> outputs = {{1, 0}, {0.6f, 0.8f}, {0, 5}};

  // When measured
  SimilarityFigures f = similarity_from_vectors(outputs, personas, kNoInterrupt);

  // Then the mean is over the three output pairs, and the persona range [0, 1] is split into
  // ten bins of which only the first (cosine 0: pairs 1-3 and 2-3) and the last (cosine 1:
  // pair 1-2, its high edge included) have pairs
  EXPECT_EQ(f.sample, 3u);
  EXPECT_EQ(f.pairs, 3u);
  EXPECT_NEAR(f.mean_pairwise_cosine.value(), (0.6 + 0 + 0.8) / 3, 1e-6);
  ASSERT_EQ(f.bins.size(), 2u);
  EXPECT_NEAR(f.bins[0].persona_low, 0, 1e-9);
  EXPECT_NEAR(f.bins[0].persona_high, 0.1, 1e-9);
  EXPECT_EQ(f.bins[0].pairs, 2u);
  EXPECT_NEAR(f.bins[0].mean_output, 0.4, 1e-6);
  EXPECT_NEAR(f.bins[1].persona_low, 0.9, 1e-6);
  EXPECT_NEAR(f.bins[1].persona_high, 1.0, 1e-6);
  EXPECT_EQ(f.bins[1].pairs, 1u);
  EXPECT_NEAR(f.bins[1].mean_output, 0.6, 1e-6);
}

TEST(SimilarityFromVectors, PlacesEachPairInTheBinOfItsPersonaCosine) {
  // Given personas at angles whose 66 pair cosines spread over (-1, 1), none of them on an inner
  // bin edge (where float rounding could tip it either way), and varied outputs
  const size_t n = 12;
  std::vector<std::vector<float>> personas, outputs;
  for (size_t i = 0; i < n; ++i) {
    const double angle = 0.31 * double(i * i) + 0.1 * double(i);
    personas.push_back({float(std::cos(angle)), float(std::sin(angle))});
    outputs.push_back({float(std::sin(1.7 * double(i))), float(std::cos(0.4 * double(i))), 0.5f});
  }
  double low = 2, high = -2;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      low = std::min(low, cosine(personas[i], personas[j]));
      high = std::max(high, cosine(personas[i], personas[j]));
    }
  const double width = (high - low) / double(kSimilarityBins);
  std::vector<uint64_t> pairs(kSimilarityBins, 0);
  std::vector<double> sums(kSimilarityBins, 0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const double at = (cosine(personas[i], personas[j]) - low) / width;
      const double edge = std::round(at);
      ASSERT_TRUE(edge == 0 || edge == double(kSimilarityBins) || std::abs(at - edge) > 1e-4)
          << "pair " << i << "," << j << " is on a bin edge: change the angles";
      const size_t bin = std::min(size_t(at), kSimilarityBins - 1);
      ++pairs[bin];
      sums[bin] += cosine(outputs[i], outputs[j]);
    }

  // When measured
  SimilarityFigures f = similarity_from_vectors(outputs, personas, kNoInterrupt);

  // Then the bins split [low, high] in ten, those with pairs are kept in order, and each holds
  // the pairs whose persona cosine falls in it, with their mean output cosine
  EXPECT_EQ(f.pairs, n * (n - 1) / 2);
  size_t next = 0;
  for (size_t b = 0; b < kSimilarityBins; ++b) {
    if (pairs[b] == 0) continue;
    ASSERT_LT(next, f.bins.size());
    const SimilarityBin& bin = f.bins[next++];
    EXPECT_NEAR(bin.persona_low, low + width * double(b), 1e-6);
    EXPECT_NEAR(bin.persona_high, low + width * double(b + 1), 1e-6);
    EXPECT_EQ(bin.pairs, pairs[b]) << "bin " << b;
    EXPECT_NEAR(bin.mean_output, sums[b] / double(pairs[b]), 1e-6) << "bin " << b;
  }
  EXPECT_EQ(next, f.bins.size());
  EXPECT_GE(f.bins.size(), 5u);  // the construction spreads over the range
}

TEST(SimilarityFromVectors, OnePersonaGivesOneBinAndRecordsWithoutPersonaOnlyCountInTheMean) {
  // Given three records of one persona, a fourth without one, and a zero output vector
  std::vector<std::vector<float>> personas = {{0, 2}, {0, 1}, {0, 7}, {}};
  std::vector<std::vector<float>> outputs = {{1, 0}, {1, 0}, {0, 0}, {-1, 0}};

  // When measured
  SimilarityFigures f = similarity_from_vectors(outputs, personas, kNoInterrupt);

  // Then the mean is over all six pairs (1-2: 1, 1-4 and 2-4: -1, the rest 0), and one bin at
  // persona cosine 1 holds the three pairs among the first three records (1, 0, 0)
  EXPECT_EQ(f.pairs, 6u);
  EXPECT_NEAR(f.mean_pairwise_cosine.value(), (1.0 - 1.0 - 1.0) / 6, 1e-6);
  ASSERT_EQ(f.bins.size(), 1u);
  EXPECT_NEAR(f.bins[0].persona_low, 1, 1e-6);
  EXPECT_NEAR(f.bins[0].persona_high, 1, 1e-6);
  EXPECT_EQ(f.bins[0].pairs, 3u);
  EXPECT_NEAR(f.bins[0].mean_output, 1.0 / 3, 1e-6);
}

TEST(SimilarityFromVectors, FewerThanTwoRecordsHaveNoPairs) {
  SimilarityFigures one = similarity_from_vectors({{1, 0}}, {{1, 0}}, kNoInterrupt);
  EXPECT_EQ(one.sample, 1u);
  EXPECT_EQ(one.pairs, 0u);
  EXPECT_FALSE(one.mean_pairwise_cosine) << "a mean of no pairs is undefined, not 0";
  EXPECT_TRUE(one.bins.empty());
}

TEST(SimilarityFromVectors, RefusesVectorsOfDifferentDimensions) {
  try {
    similarity_from_vectors({{1, 0}, {1, 0, 0}}, {}, kNoInterrupt);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(
        std::string(e.what()).find("output 2 of the sample has 3 dimensions, the first had 2"),
        std::string::npos)
        << e.what();
  }
}

TEST(SimilarityFromVectors, StopsWhenInterrupted) {
  std::atomic<int> interrupt{1};
  try {
    similarity_from_vectors({{1, 0}, {0, 1}}, {{1, 0}, {0, 1}}, interrupt);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::interrupted);
  }
}

class MeasureSimilarityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("personagen-similarity-" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// How many texts the server was asked to embed, over every request.
size_t texts_embedded(const testing::TestServer& server) {
  size_t count = 0;
  for (const std::string& body : server.embedding_requests())
    count += Json::parse(body)["input"].size();
  return count;
}

TEST_F(MeasureSimilarityTest, EmbedsOverTheServerAndMeasuresItsVectors) {
  // Given the local server and a sample: 9 records over 3 personas, one without a persona, one
  // with an empty output
  testing::TestServer server;
  std::vector<TextPair> sample;
  const char* personas[] = {"a beekeeper in Osaka", "a night nurse in Lisbon", "a chess coach"};
  for (int i = 0; i < 9; ++i)
    sample.push_back({personas[i % 3], "problem " + std::to_string(i) + " about " +
                                           std::string(i % 2 ? "bees and honey" : "chess moves")});
  sample.push_back({"", "a record without a persona about bees"});
  sample.push_back({"a persona whose output is empty", ""});
  SimilarityOptions options;
  options.model = "embed-test";
  options.base_urls = {server.base_url()};
  options.batch = 4;
  options.cache_path = path("cache.embeddings");

  // When measured, twice with the same cache
  SimilarityFigures f = measure_similarity(sample, options, kNoInterrupt);
  const size_t requests = server.embedding_requests().size();
  SimilarityFigures again = measure_similarity(sample, options, kNoInterrupt);

  // Then the figures are those of test_embedding's vectors of the 10 records with an output,
  // each distinct text was sent once (10 outputs, 3 personas), and the rerun sent nothing
  std::vector<std::vector<float>> outputs, persona_vectors;
  for (size_t i = 0; i < 10; ++i) {
    outputs.push_back(testing::test_embedding(sample[i].output));
    persona_vectors.push_back(sample[i].persona.empty()
                                  ? std::vector<float>()
                                  : testing::test_embedding(sample[i].persona));
  }
  SimilarityFigures expected = similarity_from_vectors(outputs, persona_vectors, kNoInterrupt);
  EXPECT_EQ(f.model, "embed-test");
  EXPECT_EQ(f.sample, 10u);
  EXPECT_EQ(f.pairs, 45u);
  EXPECT_NEAR(f.mean_pairwise_cosine.value(), expected.mean_pairwise_cosine.value(), 1e-6);
  ASSERT_EQ(f.bins.size(), expected.bins.size());
  uint64_t binned = 0;
  for (size_t b = 0; b < f.bins.size(); ++b) {
    EXPECT_EQ(f.bins[b].pairs, expected.bins[b].pairs);
    EXPECT_NEAR(f.bins[b].mean_output, expected.bins[b].mean_output, 1e-6);
    binned += f.bins[b].pairs;
  }
  EXPECT_EQ(binned, 36u);  // the 9 records with a persona
  EXPECT_EQ(texts_embedded(server), 13u);
  EXPECT_EQ(server.embedding_requests().size(), requests);
  EXPECT_NEAR(again.mean_pairwise_cosine.value(), f.mean_pairwise_cosine.value(), 1e-9);
  for (const std::string& body : server.embedding_requests())
    EXPECT_EQ(Json::parse(body)["model"], "embed-test");
}

TEST_F(MeasureSimilarityTest, WithoutACachePathUsesATemporaryFileAndRemovesIt) {
  // Given the local server and a temporary directory of our own
  testing::TestServer server;
  const std::string tmpdir = path("tmp");
  fs::create_directories(tmpdir);
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  setenv("TMPDIR", tmpdir.c_str(), 1);
  SimilarityOptions options;
  options.model = "embed-test";
  options.base_urls = {server.base_url()};

  // When measured without a cache path
  SimilarityFigures f =
      measure_similarity({{"p one", "output one"}, {"p two", "output two"}}, options, kNoInterrupt);
  old ? setenv("TMPDIR", saved.c_str(), 1) : unsetenv("TMPDIR");

  // Then it measured, and left nothing behind
  EXPECT_EQ(f.pairs, 1u);
  EXPECT_EQ(texts_embedded(server), 4u);
  EXPECT_TRUE(fs::is_empty(tmpdir));
}

TEST_F(MeasureSimilarityTest, FailsClearlyWhenTheEndpointRefusesTheKey) {
  // Given a server that wants a key the report does not have
  testing::ServerOptions server_options;
  server_options.api_key = "secret-key-123";
  testing::TestServer server(server_options);
  SimilarityOptions options;
  options.model = "embed-test";
  options.base_urls = {server.base_url()};
  options.cache_path = path("cache.embeddings");

  // When measured, then the error names the refusal
  try {
    measure_similarity({{"p", "one"}, {"q", "two"}}, options, kNoInterrupt);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("401"), std::string::npos) << e.what();
  }
}

TEST(MeasureSimilarity, NeedsAModelAndABaseUrl) {
  SimilarityOptions options;
  options.base_urls = {"http://127.0.0.1:9/v1"};
  try {
    measure_similarity({{"p", "o"}}, options, kNoInterrupt);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
  }
  options.model = "m";
  options.base_urls = {};
  try {
    measure_similarity({{"p", "o"}}, options, kNoInterrupt);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("base URL"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace personagen
