#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "dedup/embedding_client.h"
#include "report/figures.h"

namespace personagen {

// What --embed-model needs to reach an OpenAI-compatible /embeddings endpoint.
struct SimilarityOptions : EmbeddingService {
  std::string cache_path;  // embeddings cache; empty = a temporary file, removed at the end
};

// The persona-cosine bins of the "output similarity against persona similarity" chart.
inline constexpr size_t kSimilarityBins = 10;

// Embeds the sample's outputs and personas (fetch_embeddings, through the cache, so a text that
// repeats, such as a persona behind several outputs, is fetched once) and measures them as
// similarity_from_vectors does. Records with an empty output are left out; an empty persona
// leaves its record out of the bins only. Throws a usage Error for a bad model or base URL,
// Error with ExitCode::interrupted when `interrupt` rose, and Error as fetch_embeddings does.
SimilarityFigures measure_similarity(const std::vector<TextPair>& sample,
                                     const SimilarityOptions& options,
                                     const std::atomic<int>& interrupt);

// The figures of embedded records: `outputs[i]` and `personas[i]` are record i's vectors (any
// norm; each is normalized here, a zero vector has cosine 0 with everything), and an empty
// persona vector means the record has none. mean_pairwise_cosine is over every pair i < j of
// outputs; the bins split the observed range [min, max] of the persona cosine of the pairs whose
// records both have a persona into kSimilarityBins equal bins (the last one includes max; a
// single bin when every pair has the same persona cosine), each with the pairs in it and the
// mean output cosine of those; bins without a pair are left out. Throws Error when vectors
// differ in dimension, or with ExitCode::interrupted when `interrupt` rose.
SimilarityFigures similarity_from_vectors(std::vector<std::vector<float>> outputs,
                                          std::vector<std::vector<float>> personas,
                                          const std::atomic<int>& interrupt);

}  // namespace personagen
