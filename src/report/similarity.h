#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "report/figures.h"

namespace personagen {

// What --embed-model needs to reach an OpenAI-compatible /embeddings endpoint.
struct SimilarityOptions {
  std::string model;
  std::vector<std::string> base_urls;
  std::string api_key;  // never logged
  int concurrency = 16;
  size_t batch = 64;
  double timeout_seconds = 120;
  int max_retries = 5;
  std::string cache_path;  // embeddings cache; empty = none
};

// Embeds the sample's outputs and personas and measures the mean pairwise cosine of outputs and
// output similarity against persona similarity, binned.
SimilarityFigures measure_similarity(const std::vector<TextPair>& sample,
                                     const SimilarityOptions& options,
                                     const std::atomic<int>& interrupt);

}  // namespace personagen
