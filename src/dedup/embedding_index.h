#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace personagen {

// Nearest-neighbour search over unit vectors by cosine similarity, for the semantic stage of
// dedup: a thin wrapper over hnswlib's HierarchicalNSW with the inner-product space. Adding
// points from one thread in a fixed order, with a fixed seed, gives the same graph and the same
// answers on every run. The search is approximate, as HNSW is; with the settings used here it
// finds the true nearest neighbour in all but rare cases.
class EmbeddingIndex {
 public:
  // An index for up to `capacity` vectors of `dimension` floats (it grows past that if needed).
  EmbeddingIndex(size_t dimension, size_t capacity, uint64_t seed);
  ~EmbeddingIndex();
  EmbeddingIndex(const EmbeddingIndex&) = delete;
  EmbeddingIndex& operator=(const EmbeddingIndex&) = delete;

  struct Neighbour {
    uint64_t label = 0;
    float cosine = 0;
  };

  // The indexed vector with the highest cosine with `unit_vector` (dimension() floats, norm 1);
  // nullopt while the index is empty.
  std::optional<Neighbour> nearest(const float* unit_vector) const;
  // Adds a unit vector under `label`.
  void add(const float* unit_vector, uint64_t label);

  size_t size() const;
  size_t dimension() const { return dimension_; }

 private:
  struct Impl;
  size_t dimension_;
  std::unique_ptr<Impl> impl_;
};

// Scales `vector` to norm 1; a zero vector is left as it is. Returns the norm it had.
float normalize_vector(float* vector, size_t dimension);

}  // namespace personagen
