#include "input/input_files.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <system_error>

#include "personagen/error.h"

namespace personagen {
namespace {

constexpr std::array<std::string_view, 3> kShardEndings = {".jsonl", ".jsonl.gz", ".jsonl.zst"};
// The side files a run writes next to its shards: never records to read again.
constexpr std::array<std::string_view, 5> kSideFiles = {"failures.jsonl", "failures.retry.jsonl",
                                                        "rejects.jsonl", "unverified.jsonl",
                                                        "below-threshold.jsonl"};
// A batch directory's requests and the batches' results (batch export, batch run): never records.
constexpr std::array<std::string_view, 3> kBatchPrefixes = {"requests-", "results-", "errors-"};

// The record shards of `dir`, in name order; throws a usage Error naming it if there are none.
std::vector<std::string> shards_of(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code kind_error;
    if (is_record_shard(name) && it->is_regular_file(kind_error)) names.push_back(name);
  }
  if (ec) throw usage_error(dir + ": cannot list the input directory: " + ec.message());
  if (names.empty())
    throw usage_error(
        dir +
        ": the input directory holds no record shard (*.jsonl, *.jsonl.gz or "
        "*.jsonl.zst, other than failures.jsonl, rejects.jsonl and other side files)");
  std::sort(names.begin(), names.end());
  std::vector<std::string> paths;
  paths.reserve(names.size());
  const std::string prefix = dir.ends_with('/') ? dir : dir + "/";
  for (const std::string& name : names) paths.push_back(prefix + name);
  return paths;
}

}  // namespace

bool is_record_shard(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  if (std::find(kSideFiles.begin(), kSideFiles.end(), name) != kSideFiles.end()) return false;
  if (std::any_of(kBatchPrefixes.begin(), kBatchPrefixes.end(),
                  [name](std::string_view prefix) { return name.starts_with(prefix); }))
    return false;
  return std::any_of(kShardEndings.begin(), kShardEndings.end(), [name](std::string_view end) {
    return name.size() > end.size() && name.ends_with(end);
  });
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    if (input == "-") {
      if (inputs.size() > 1)
        throw usage_error("-i -: standard input can only be the one input, not one of " +
                          std::to_string(inputs.size()));
      files.push_back(input);
      continue;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) {
      std::vector<std::string> shards = shards_of(input);
      files.insert(files.end(), shards.begin(), shards.end());
    } else {
      files.push_back(input);
    }
  }
  return files;
}

std::string join_inputs(const std::vector<std::string>& inputs) {
  std::string out;
  for (const std::string& input : inputs) out += (out.empty() ? "" : " + ") + input;
  return out;
}

}  // namespace personagen
