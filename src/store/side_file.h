#pragma once

// The side files of an output directory: the JSONL files beside the shards that hold the input
// lines that did not become records. One table row each, so that a new one is one row here and
// the writer, the manifest, the journal and the run directory all follow.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace personagen {

enum class SideFile {
  failures,    // requests that failed for good (failures.jsonl)
  rejects,     // input lines that are not a usable persona (rejects.jsonl)
  unverified,  // solve lines whose samples did not agree (unverified.jsonl)
  // judge records whose overall score is below --min-score (below-threshold.jsonl)
  below_threshold,
};

struct SideFileInfo {
  SideFile file;
  std::string_view file_name;     // inside the output directory
  std::string_view manifest_key;  // its {"lines", "bytes"} object in manifest.json
  std::string_view label;         // "personagen: <label>: <JSON>" on stderr with -o -
  // Recorded in every manifest and journal entry since the first version; a later side file is
  // absent from those written before it, and reads as empty there.
  bool always_recorded;
};

inline constexpr SideFileInfo kSideFiles[] = {
    {SideFile::failures, "failures.jsonl", "failures", "failure", true},
    {SideFile::rejects, "rejects.jsonl", "rejects", "reject", true},
    {SideFile::unverified, "unverified.jsonl", "unverified", "unverified", false},
    {SideFile::below_threshold, "below-threshold.jsonl", "below_threshold", "below-threshold",
     false},
};

inline constexpr size_t kSideFileCount = std::size(kSideFiles);

constexpr size_t side_index(SideFile file) {
  return static_cast<size_t>(file);
}

constexpr const SideFileInfo& side_file_info(SideFile file) {
  return kSideFiles[side_index(file)];
}

// The rows are indexed by the enum, so each row must sit at its enumerator's place.
static_assert([] {
  for (size_t i = 0; i < kSideFileCount; ++i)
    if (side_index(kSideFiles[i].file) != i) return false;
  return true;
}());

// What a side file holds at a checkpoint. Lines are whole JSON documents, each ending in '\n'.
struct SideFileState {
  uint64_t bytes = 0;
  uint64_t lines = 0;
  bool operator==(const SideFileState&) const = default;
};

using SideFileStates = std::array<SideFileState, kSideFileCount>;

}  // namespace personagen
