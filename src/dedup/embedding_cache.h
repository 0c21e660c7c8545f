#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace personagen {

// What an embedding is cached under: a 128-bit hash of the model name and the exact text.
struct EmbeddingKey {
  uint64_t low = 0;
  uint64_t high = 0;
  bool operator==(const EmbeddingKey&) const = default;
};
EmbeddingKey embedding_key(std::string_view model, std::string_view text);

// An append-only file of embeddings, so that a rerun of `dedup --embed-model` requests only the
// texts it does not have yet. Each record is [magic u32][dimension u32][key 2 x u64]
// [dimension x float32][XXH3 of the preceding bytes u64], in the machine's byte order.
// Opening the file drops a torn or corrupt tail (a kill during an append) back to the last
// whole record. Not thread-safe.
class EmbeddingCache {
 public:
  // Opens or creates `path` and indexes what it holds. Throws Error naming the file if it
  // cannot be opened, read or cut back.
  explicit EmbeddingCache(const std::string& path);
  ~EmbeddingCache();
  EmbeddingCache(const EmbeddingCache&) = delete;
  EmbeddingCache& operator=(const EmbeddingCache&) = delete;

  bool contains(const EmbeddingKey& key) const { return index_.contains(key); }
  // Reads the embedding stored for `key` into `out`; false when there is none. Throws Error on
  // a failed read.
  bool get(const EmbeddingKey& key, std::vector<float>& out) const;
  // Appends an embedding; a key already present is left as it is. Throws Error on a failed
  // write.
  void put(const EmbeddingKey& key, std::span<const float> vector);
  // Makes what was appended durable (fsync). Throws Error on failure.
  void sync();

  size_t size() const { return index_.size(); }
  // Bytes dropped from the end when the file was opened (a torn last record), for the log.
  uint64_t dropped_bytes() const { return dropped_bytes_; }
  const std::string& path() const { return path_; }

 private:
  struct KeyHash {
    size_t operator()(const EmbeddingKey& key) const { return key.low; }
  };
  struct Entry {
    uint64_t offset;  // of the first float
    uint32_t dimension;
  };
  void load();

  std::string path_;
  int fd_ = -1;
  uint64_t end_ = 0;
  uint64_t dropped_bytes_ = 0;
  std::unordered_map<EmbeddingKey, Entry, KeyHash> index_;
  std::string record_;  // reused to build one record
};

}  // namespace personagen
