#include "dedup/embedding_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "personagen/error.h"
#include "util/file_io.h"
#include "util/hash.h"

namespace personagen {
namespace {

// A record: a header (magic, dimension, the key's low and high halves), the floats, and a
// trailer holding hash64 of everything before it, so a torn or corrupt record is recognised.
constexpr uint32_t kMagic = 0x4d454750;  // "PGEM"
constexpr size_t kHeaderBytes = 4 + 4 + 8 + 8;
constexpr size_t kTrailerBytes = 8;
// Larger vectors are taken for corruption: no embedding model comes close.
constexpr uint32_t kMaxDimension = 1u << 16;
// The key's second half is the same hash under another seed: 128 bits make a collision between
// two texts (which would hand one text the other's embedding) too unlikely to matter. Any fixed
// value will do, but it must never change, or every cache on disk becomes a miss.
constexpr uint64_t kCacheKeyHighSeed = 0x0e3bedd1c0ffee11ULL;

// Reads exactly `size` bytes at `offset`; false at the end of the file.
bool read_at(int fd, void* data, size_t size, uint64_t offset, const std::string& path) {
  auto* out = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Error(path + ": cannot read at offset " + std::to_string(offset) + ": " + errno_text());
    if (n == 0) return false;
    out += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace

EmbeddingKey embedding_key(std::string_view model, std::string_view text) {
  const uint64_t seed = hash64(model);
  return {hash64(text, seed), hash64(text, seed ^ kCacheKeyHighSeed)};
}

EmbeddingCache::EmbeddingCache(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path + ": cannot open the embedding cache: " + errno_text());
  try {
    load();
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

EmbeddingCache::~EmbeddingCache() {
  if (fd_ >= 0) ::close(fd_);
}

void EmbeddingCache::load() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw Error(path_ + ": cannot stat: " + errno_text());
  const auto file_size = static_cast<uint64_t>(st.st_size);
  uint64_t offset = 0;
  std::string record;
  for (;;) {
    char header[kHeaderBytes];
    if (offset + kHeaderBytes > file_size || !read_at(fd_, header, kHeaderBytes, offset, path_)) {
      break;
    }
    uint32_t magic = 0, dimension = 0;
    EmbeddingKey key;
    std::memcpy(&magic, header, 4);
    std::memcpy(&dimension, header + 4, 4);
    std::memcpy(&key.low, header + 8, 8);
    std::memcpy(&key.high, header + 16, 8);
    if (magic != kMagic || dimension == 0 || dimension > kMaxDimension) break;
    const size_t size = kHeaderBytes + dimension * sizeof(float) + kTrailerBytes;
    if (offset + size > file_size) break;
    record.resize(size);
    if (!read_at(fd_, record.data(), size, offset, path_)) break;
    uint64_t check = 0;
    std::memcpy(&check, record.data() + size - kTrailerBytes, 8);
    if (check != hash64(std::string_view(record.data(), size - kTrailerBytes))) break;
    index_.try_emplace(key, Entry{offset + kHeaderBytes, dimension});
    offset += size;
  }
  end_ = offset;
  if (offset < file_size) {
    dropped_bytes_ = file_size - offset;
    if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0) {
      throw Error(path_ + ": cannot cut a torn record at offset " + std::to_string(offset) + ": " +
                  errno_text());
    }
  }
}

bool EmbeddingCache::get(const EmbeddingKey& key, std::vector<float>& out) const {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  out.resize(it->second.dimension);
  if (!read_at(fd_, out.data(), out.size() * sizeof(float), it->second.offset, path_)) {
    throw Error(path_ + ": record at offset " + std::to_string(it->second.offset) +
                " is cut short (was the file changed while dedup ran?)");
  }
  return true;
}

void EmbeddingCache::put(const EmbeddingKey& key, std::span<const float> vector) {
  if (index_.contains(key)) return;
  if (vector.empty() || vector.size() > kMaxDimension) {
    throw Error(path_ + ": cannot cache an embedding of dimension " +
                std::to_string(vector.size()));
  }
  const auto dimension = static_cast<uint32_t>(vector.size());
  record_.resize(kHeaderBytes + vector.size_bytes() + kTrailerBytes);
  char* p = record_.data();
  std::memcpy(p, &kMagic, 4);
  std::memcpy(p + 4, &dimension, 4);
  std::memcpy(p + 8, &key.low, 8);
  std::memcpy(p + 16, &key.high, 8);
  std::memcpy(p + kHeaderBytes, vector.data(), vector.size_bytes());
  const uint64_t check = hash64(std::string_view(p, record_.size() - kTrailerBytes));
  std::memcpy(p + record_.size() - kTrailerBytes, &check, 8);

  size_t written = 0;
  while (written < record_.size()) {
    ssize_t n =
        ::pwrite(fd_, p + written, record_.size() - written, static_cast<off_t>(end_ + written));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw Error(path_ + ": cannot write at offset " + std::to_string(end_ + written) + ": " +
                  errno_text());
    }
    written += static_cast<size_t>(n);
  }
  index_.try_emplace(key, Entry{end_ + kHeaderBytes, dimension});
  end_ += record_.size();
}

void EmbeddingCache::sync() {
  if (::fsync(fd_) != 0) throw Error(path_ + ": cannot sync: " + errno_text());
}

}  // namespace personagen
