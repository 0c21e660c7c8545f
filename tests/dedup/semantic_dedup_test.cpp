#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "dedup/dedup.h"
#include "dedup/dedup_fixture.h"
#include "dedup/embedding_index.h"
#include "personagen/error.h"
#include "test_server.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// The semantic stage runs against the local server; a suite of its own, so that it can be
// picked out (it needs the server, and hnswlib's node locks upset ThreadSanitizer's lock-order
// check although one thread takes them).
class SemanticDedupTest : public testing_support::DedupTest {};

TEST(EmbeddingIndex, FindsTheTrueNearestNeighbourAlmostAlways) {
  // Given 3,000 random unit vectors of dimension 32 in an index
  std::mt19937_64 rng(9);
  std::normal_distribution<float> normal;
  const size_t kDimension = 32, kCount = 3000;
  std::vector<std::vector<float>> vectors(kCount, std::vector<float>(kDimension));
  EmbeddingIndex index(kDimension, 16, 1);  // grows past its first capacity
  for (size_t i = 0; i < kCount; ++i) {
    for (float& v : vectors[i]) v = normal(rng);
    normalize_vector(vectors[i].data(), kDimension);
    index.add(vectors[i].data(), i);
  }

  // When 300 noisy copies of indexed vectors are looked up
  int exact = 0;
  for (size_t q = 0; q < 300; ++q) {
    std::vector<float> query = vectors[rng() % kCount];
    for (float& v : query) v += 0.3f * normal(rng) / std::sqrt(float(kDimension));
    normalize_vector(query.data(), kDimension);
    size_t best = 0;
    double best_cosine = -2;
    for (size_t i = 0; i < kCount; ++i) {
      double c = 0;
      for (size_t d = 0; d < kDimension; ++d) c += query[d] * vectors[i][d];
      if (c > best_cosine) best_cosine = c, best = i;
    }
    std::optional<EmbeddingIndex::Neighbour> found = index.nearest(query.data());
    ASSERT_TRUE(found.has_value());
    exact += found->label == best && std::abs(found->cosine - best_cosine) < 1e-4;
  }

  // Then it returns the brute-force nearest neighbour and its cosine in at least 99% of cases
  EXPECT_GE(exact, 297);
  EXPECT_EQ(index.size(), kCount);
}

TEST(TestServerEmbeddings, AnswersDeterministicUnitVectorsForStringsAndArrays) {
  // Given the local server
  testing::TestServer server;
  httplib::Client client("127.0.0.1", server.port());

  // When embeddings are asked for one string and for an array
  auto one = client.Post("/v1/embeddings", R"({"model":"m","input":"Jazz and chess"})",
                         "application/json");
  auto two = client.Post("/v1/embeddings",
                         R"({"model":"m","input":["chess AND jazz!","a different text"]})",
                         "application/json");
  auto bad = client.Post("/v1/embeddings", R"({"model":"m","input":[1]})", "application/json");

  // Then each text gets test_embedding(text): unit length, the same for the same words in any
  // order, another for other words; a bad input is a 400
  ASSERT_TRUE(one && two && bad);
  ASSERT_EQ(one->status, 200);
  Json a = Json::parse(one->body), b = Json::parse(two->body);
  std::vector<float> va = a["data"][0]["embedding"], vb = b["data"][0]["embedding"],
                     vc = b["data"][1]["embedding"];
  EXPECT_EQ(va.size(), testing::kTestEmbeddingDimension);
  EXPECT_EQ(va, vb);
  EXPECT_EQ(va, testing::test_embedding("jazz chess and"));
  EXPECT_NE(va, vc);
  EXPECT_EQ(b["data"][1]["index"], 1);
  double norm = 0;
  for (float v : va) norm += v * v;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(server.embedding_requests().size(), 3u);
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0;
  for (size_t i = 0; i < a.size(); ++i) dot += a[i] * b[i];
  return dot;
}

TEST_F(SemanticDedupTest, DropsCloseEmbeddingsAndCachesThem) {
  // Given personas of 10 words, variants with 2 more words (Jaccard 10/12, below the MinHash
  // threshold, but close embeddings), and unrelated personas; one text fails once first
  testing::TestServer server;
  std::vector<std::string> texts;
  for (int i = 0; i < 30; ++i) {
    std::string base;
    for (int w = 0; w < 10; ++w) base += "t" + std::to_string(i) + "w" + std::to_string(w) + " ";
    texts.push_back(base);
    if (i % 3 == 0) texts.push_back(base + "also extra" + std::to_string(i));
  }
  texts.push_back("one text that fails once [[fault:503*1]]");
  std::string content;
  for (const std::string& text : texts) content += persona_line(text);
  std::string in = write("in.jsonl", content);
  DedupOptions o = options(in);
  o.embed_model = "embed-test";
  o.cosine = 0.85;
  o.base_urls = {server.base_url()};
  o.batch = 4;
  o.concurrency = 4;

  // When deduplicated with the semantic stage, twice
  DedupStats first = run_dedup(o);
  const size_t requests_after_first = server.embedding_requests().size();
  std::string first_out = read(path("out.jsonl"));
  DedupStats second = run_dedup(o);

  // Then stages 1 and 2 drop nothing, and stage 3 drops exactly the texts whose test_embedding
  // has a cosine of at least 0.85 with an earlier kept one (brute force here), naming the
  // nearest of those and its cosine
  std::vector<std::pair<size_t, size_t>> expected;  // line, duplicate_of
  std::vector<size_t> kept;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::optional<size_t> nearest;
    double best = -1;
    for (size_t k : kept) {
      double c = cosine(testing::test_embedding(texts[i]), testing::test_embedding(texts[k]));
      if (c > best) best = c, nearest = k;
    }
    if (nearest && best >= 0.85) {
      expected.emplace_back(i + 1, *nearest + 1);
    } else {
      kept.push_back(i);
    }
  }
  EXPECT_EQ(first.exact_dropped + first.near_dropped, 0u);
  EXPECT_GE(expected.size(), 8u);  // most variants are semantic duplicates
  EXPECT_EQ(first.semantic_dropped, expected.size());
  EXPECT_EQ(first.kept, texts.size() - expected.size());
  EXPECT_EQ(first.embeddings_fetched, texts.size());
  std::vector<Json> dropped = report(path("report.jsonl"));
  ASSERT_EQ(dropped.size(), expected.size());
  for (size_t i = 0; i < dropped.size(); ++i) {
    const size_t line = dropped[i]["line"], of = dropped[i]["duplicate_of"];
    EXPECT_EQ(dropped[i]["stage"], "semantic");
    EXPECT_EQ(line, expected[i].first);
    EXPECT_EQ(of, expected[i].second);
    EXPECT_NEAR(
        dropped[i]["similarity"].get<double>(),
        cosine(testing::test_embedding(texts[line - 1]), testing::test_embedding(texts[of - 1])),
        1e-3);
  }
  // and the failed request was retried
  EXPECT_GT(requests_after_first, (texts.size() + 3) / 4);
  // and the rerun asks for nothing, taking every embedding from the cache, with the same result
  EXPECT_EQ(server.embedding_requests().size(), requests_after_first);
  EXPECT_EQ(second.embeddings_fetched, 0u);
  EXPECT_EQ(second.embeddings_cached, texts.size());
  EXPECT_EQ(read(path("out.jsonl")), first_out);
  EXPECT_TRUE(fs::exists(path("out.jsonl.embeddings")));
}

TEST_F(SemanticDedupTest, CacheSurvivesATornTailAndRefetchesOnlyWhatIsMissing) {
  // Given a completed semantic run whose cache then lost its last record half-way
  testing::TestServer server;
  std::string content;
  for (int i = 0; i < 8; ++i) content += persona_line("persona number " + std::to_string(i));
  std::string in = write("in.jsonl", content);
  DedupOptions o = options(in);
  o.embed_model = "embed-test";
  o.base_urls = {server.base_url()};
  o.batch = 1;
  run_dedup(o);
  const std::string cache = path("out.jsonl.embeddings");
  const auto size = fs::file_size(cache);
  fs::resize_file(cache, size - 100);
  const size_t before = server.embedding_requests().size();

  // When run again
  DedupStats stats = run_dedup(o);

  // Then only the torn record is fetched again
  EXPECT_EQ(stats.embeddings_fetched, 1u);
  EXPECT_EQ(stats.embeddings_cached, 7u);
  EXPECT_EQ(server.embedding_requests().size(), before + 1);
  EXPECT_EQ(fs::file_size(cache), size);
  EXPECT_EQ(stats.kept, 8u);
}

TEST_F(SemanticDedupTest, FailsClearlyWhenTheEndpointRefuses) {
  // Given a server that wants a key the run does not have
  testing::ServerOptions server_options;
  server_options.api_key = "secret";
  testing::TestServer server(server_options);
  std::string in = write("in.jsonl", persona_line("A smith") + persona_line("A miller"));
  DedupOptions o = options(in);
  o.embed_model = "embed-test";
  o.base_urls = {server.base_url()};

  // When deduplicated
  // Then the run stops with an error naming the cause, and writes no output
  try {
    run_dedup(o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("401"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path("out.jsonl")));
}

}  // namespace
}  // namespace personagen
