#include "report/similarity.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "dedup/dedup_files.h"
#include "dedup/embedding_cache.h"
#include "dedup/embedding_client.h"
#include "dedup/embedding_index.h"
#include "net/endpoint_balancer.h"
#include "personagen/error.h"
#include "personagen/http_transport.h"

namespace personagen {
namespace {

constexpr size_t kNoRow = std::numeric_limits<size_t>::max();

// Vectors of one dimension, normalized, one after another: the pair loops read them in order.
struct UnitRows {
  size_t dimension = 0;
  std::vector<float> data;
  const float* row(size_t i) const { return data.data() + i * dimension; }
};

// `vectors`' non-empty ones as UnitRows (consumed as they are copied), and for each vector its
// row, or kNoRow when it was empty. Throws Error naming `what` and the index when dimensions
// differ.
UnitRows unit_rows(std::vector<std::vector<float>>& vectors, const char* what,
                   std::vector<size_t>& rows) {
  UnitRows out;
  rows.assign(vectors.size(), kNoRow);
  size_t count = 0;
  for (size_t i = 0; i < vectors.size(); ++i) {
    std::vector<float>& vector = vectors[i];
    if (vector.empty()) continue;
    if (out.dimension == 0) {
      out.dimension = vector.size();
      out.data.reserve(vectors.size() * out.dimension);
    }
    if (vector.size() != out.dimension)
      throw Error("report: the embedding of " + std::string(what) + " " + std::to_string(i + 1) +
                  " of the sample has " + std::to_string(vector.size()) +
                  " dimensions, the first had " + std::to_string(out.dimension));
    normalize_vector(vector.data(), vector.size());
    out.data.insert(out.data.end(), vector.begin(), vector.end());
    std::vector<float>().swap(vector);
    rows[i] = count++;
  }
  return out;
}

// The dot product, in eight float lanes the compiler can vectorize (a single float sum is a
// dependency chain it may not reorder), added up in double.
double dot(const float* a, const float* b, size_t n) {
  float lanes[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t k = 0; k < 8; ++k) lanes[k] += a[i + k] * b[i + k];
  double sum = 0;
  for (float lane : lanes) sum += lane;
  for (; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

void check_interrupt(const std::atomic<int>& interrupt) {
  if (interrupt.load(std::memory_order_relaxed) > 0)
    throw Error("report: interrupted while comparing embeddings", ExitCode::interrupted);
}

// The texts' embeddings in the cache, fetched where missing, over the endpoints of `options`
// as dedup's semantic stage reaches them.
void fetch_into(const std::vector<const std::string*>& texts, const SimilarityOptions& options,
                EmbeddingCache& cache, const std::atomic<int>& interrupt) {
  size_t next = 0;
  auto next_text = [&](std::string& text) {
    if (next == texts.size()) return false;
    text = *texts[next++];
    return true;
  };
  EmbeddingFetchStats fetched = fetch_embeddings(options, next_text, cache, interrupt);
  spdlog::info("report: {} embeddings fetched in {} requests ({} retries), {} from {}",
               fetched.fetched, fetched.requests, fetched.retries, fetched.cached, cache.path());
}

// The embedding of `text` from the cache, which fetch_into filled.
std::vector<float> cached(const EmbeddingCache& cache, const std::string& model,
                          const std::string& text) {
  std::vector<float> vector;
  if (!cache.get(embedding_key(model, text), vector))
    throw Error(cache.path() + ": an embedding fetched for the report is missing");
  return vector;
}

}  // namespace

SimilarityFigures similarity_from_vectors(std::vector<std::vector<float>> outputs,
                                          std::vector<std::vector<float>> personas,
                                          const std::atomic<int>& interrupt) {
  personas.resize(outputs.size());
  std::vector<size_t> output_rows, persona_rows;
  const UnitRows out = unit_rows(outputs, "output", output_rows);
  const UnitRows who = unit_rows(personas, "persona", persona_rows);
  const size_t n = outputs.size();
  for (size_t i = 0; i < n; ++i)
    if (output_rows[i] == kNoRow)
      throw Error("report: output " + std::to_string(i + 1) + " of the sample has no embedding");

  SimilarityFigures figures;
  figures.sample = n;
  figures.pairs = n < 2 ? 0 : uint64_t{n} * (n - 1) / 2;

  // First the range of the persona cosines, so that the bins split what was observed.
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (size_t i = 0; i < n; ++i) {
    check_interrupt(interrupt);
    if (persona_rows[i] == kNoRow) continue;
    for (size_t j = i + 1; j < n; ++j) {
      if (persona_rows[j] == kNoRow) continue;
      const double c = dot(who.row(persona_rows[i]), who.row(persona_rows[j]), who.dimension);
      low = std::min(low, c);
      high = std::max(high, c);
    }
  }
  const bool binned = low <= high;
  const size_t bin_count = !binned ? 0 : high > low ? kSimilarityBins : 1;
  const double width = (high - low) / static_cast<double>(kSimilarityBins);
  std::vector<uint64_t> pairs(bin_count, 0);
  std::vector<double> output_sums(bin_count, 0.0);

  // Then every pair's output cosine, and its persona cosine's bin.
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    check_interrupt(interrupt);
    const float* a = out.row(output_rows[i]);
    for (size_t j = i + 1; j < n; ++j) {
      const double c = dot(a, out.row(output_rows[j]), out.dimension);
      sum += c;
      if (persona_rows[i] == kNoRow || persona_rows[j] == kNoRow) continue;
      const double p = dot(who.row(persona_rows[i]), who.row(persona_rows[j]), who.dimension);
      size_t bin = 0;
      if (bin_count > 1) bin = std::min(static_cast<size_t>((p - low) / width), bin_count - 1);
      ++pairs[bin];
      output_sums[bin] += c;
    }
  }
  if (figures.pairs > 0) figures.mean_pairwise_cosine = sum / static_cast<double>(figures.pairs);
  for (size_t b = 0; b < bin_count; ++b) {
    if (pairs[b] == 0) continue;
    SimilarityBin bin;
    bin.persona_low = low + width * static_cast<double>(b);
    bin.persona_high = b + 1 == bin_count ? high : low + width * static_cast<double>(b + 1);
    bin.pairs = pairs[b];
    bin.mean_output = output_sums[b] / static_cast<double>(pairs[b]);
    figures.bins.push_back(bin);
  }
  return figures;
}

SimilarityFigures measure_similarity(const std::vector<TextPair>& sample,
                                     const SimilarityOptions& options,
                                     const std::atomic<int>& interrupt) {
  if (options.model.empty()) throw usage_error("report: --embed-model must name a model");
  if (options.base_urls.empty()) throw usage_error("report: --embed-model needs a base URL");
  check_base_urls(options.base_urls, "report: ");
  if (options.concurrency < 1) throw usage_error("report: the concurrency must be at least 1");
  if (options.batch < 1) throw usage_error("report: the batch must be at least 1");

  // The records that have an output to embed; their outputs first, then their personas.
  std::vector<const TextPair*> records;
  for (const TextPair& pair : sample)
    if (!pair.output.empty()) records.push_back(&pair);
  SimilarityFigures figures;
  if (!records.empty()) {
    std::vector<const std::string*> texts;
    for (const TextPair* record : records) texts.push_back(&record->output);
    for (const TextPair* record : records)
      if (!record->persona.empty()) texts.push_back(&record->persona);

    const std::string cache_path = options.cache_path.empty()
                                       ? make_temp_path("personagen-report-embeddings")
                                       : options.cache_path;
    std::optional<TempFileRemover> remover;
    if (options.cache_path.empty()) remover.emplace(cache_path);
    EmbeddingCache cache(cache_path);
    if (cache.dropped_bytes() > 0)
      spdlog::warn("{}: dropped {} bytes of a torn last record", cache_path, cache.dropped_bytes());
    fetch_into(texts, options, cache, interrupt);

    std::vector<std::vector<float>> outputs, personas;
    outputs.reserve(records.size());
    personas.reserve(records.size());
    for (const TextPair* record : records) {
      outputs.push_back(cached(cache, options.model, record->output));
      personas.push_back(record->persona.empty() ? std::vector<float>()
                                                 : cached(cache, options.model, record->persona));
    }
    figures = similarity_from_vectors(std::move(outputs), std::move(personas), interrupt);
  }
  figures.model = options.model;
  return figures;
}

}  // namespace personagen
