#include "report/similarity.h"

namespace personagen {

SimilarityFigures measure_similarity(const std::vector<TextPair>& /*sample*/,
                                     const SimilarityOptions& options,
                                     const std::atomic<int>& /*interrupt*/) {
  SimilarityFigures figures;
  figures.model = options.model;
  return figures;  // placeholder
}

}  // namespace personagen
