#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dedup/embedding_cache.h"
#include "net/request_pool.h"
#include "personagen/http_transport.h"

namespace personagen {

// The URL of the embeddings endpoint under an OpenAI-compatible base URL such as
// "http://127.0.0.1:8000/v1" (trailing slashes ignored).
std::string embeddings_url(std::string_view base_url);

// The body of POST /embeddings: {"model": model, "input": [texts...]}.
std::string build_embeddings_body(std::string_view model, std::span<const std::string> texts);

// Parses an embeddings reply, {"data": [{"embedding": [...], "index": i}, ...]}, into `count`
// vectors ordered by index (by position when an item has no index). False, with `error` set to
// one line, when the body is not such a reply, has another number of vectors, an index out of
// range or repeated, an empty or non-numeric vector, or vectors of different dimensions.
bool parse_embeddings_reply(std::string_view body, size_t count,
                            std::vector<std::vector<float>>& vectors, std::string& error);

struct EmbeddingFetchOptions {
  std::string model;
  size_t batch = 64;  // texts per request
  PoolOptions pool;
};

struct EmbeddingFetchStats {
  uint64_t texts = 0;     // texts offered by next_text
  uint64_t cached = 0;    // of which already in the cache (or repeated)
  uint64_t fetched = 0;   // embeddings received and cached in this call
  uint64_t requests = 0;  // batches sent, not counting retries
  uint64_t retries = 0;
};

// Makes sure the cache holds an embedding for every text that `next_text` yields (it returns
// false at the end), sending the missing ones `batch` at a time through a RequestPool over
// `transport`, so retries, backoff, Retry-After and 429 handling are those of synth. Each reply
// is cached as it arrives, so whatever was fetched survives any way out.
// Throws Error: on a fatal reply (401/403); with ExitCode::interrupted when `interrupt` rose;
// and when a batch failed for good, after which no new batch is started.
EmbeddingFetchStats fetch_embeddings(Transport& transport, const EmbeddingFetchOptions& options,
                                     const std::function<bool(std::string& text)>& next_text,
                                     EmbeddingCache& cache, const std::atomic<int>& interrupt);

// An OpenAI-compatible /embeddings service as the commands know it (dedup --embed-model,
// report --embed-model): its base URLs, key, model and limits.
struct EmbeddingService {
  std::vector<std::string> base_urls;
  std::string api_key;  // never logged
  std::string model;
  int concurrency = 16;
  size_t batch = 64;
  double timeout_seconds = 120;
  int max_retries = 5;
  uint64_t seed = 0;  // retry jitter
};

// fetch_embeddings over a curl transport to the service's endpoints (balanced over them), with
// a reply limit sized for a batch of large vectors.
EmbeddingFetchStats fetch_embeddings(const EmbeddingService& service,
                                     const std::function<bool(std::string& text)>& next_text,
                                     EmbeddingCache& cache, const std::atomic<int>& interrupt);

}  // namespace personagen
