#include "dedup/dedup_work.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <system_error>

#include "dedup/syntactic_dedup.h"
#include "input/input_files.h"
#include "personagen/error.h"
#include "store/atomic_file.h"
#include "util/file_io.h"
#include "util/hash.h"

namespace personagen {
namespace {

using WorkJson = nlohmann::json;

WorkJson params_json(const WorkParams& p) {
  return WorkJson{
      {"field", p.field}, {"ngram", p.ngram}, {"num_perm", p.num_perm}, {"threshold", p.threshold},
      {"bands", p.bands}, {"rows", p.rows},   {"seed", p.seed}};
}

// The flag each parameter comes from, for the message when two stages differ.
const std::map<std::string, std::string>& flag_names() {
  static const std::map<std::string, std::string> names = {
      {"field", "--field"},       {"ngram", "--ngram"},
      {"num_perm", "--num-perm"}, {"threshold", "--threshold"},
      {"bands", "--bands"},       {"rows", "--rows"},
      {"seed", "--seed"}};
  return names;
}

void write_json(const std::string& dir, const WorkJson& json) {
  write_file_atomic(done_path(dir), json.dump(2) + "\n");
}

// The marker's JSON after checking its stage; nullopt if there is none. With `hash`, stores
// hash64 of its text there.
std::optional<WorkJson> read_json(const std::string& dir, const std::string& stage,
                                  uint64_t* hash = nullptr) {
  const std::string path = done_path(dir);
  std::optional<std::string> text = read_text_file(path);
  if (!text) {
    if (file_size(path)) throw Error(path + ": cannot read");
    return std::nullopt;
  }
  if (hash) *hash = hash64(*text);
  WorkJson json = WorkJson::parse(*text, nullptr, false);
  if (json.is_discarded() || !json.is_object() || json.value("stage", "") != stage ||
      !json.contains("params") || !json["params"].is_object()) {
    throw Error(path + ": not the done marker of dedup " + stage +
                " (a JSON object with \"stage\": \"" + stage + "\" and \"params\")");
  }
  return json;
}

template <class T>
T done_field(const WorkJson& json, const char* key, const std::string& dir) {
  try {
    return json.at(key).get<T>();
  } catch (const WorkJson::exception&) {
    throw Error(done_path(dir) + ": \"" + key + "\" is missing or of the wrong type");
  }
}

WorkParams params_of(const WorkJson& json, const std::string& dir) {
  const WorkJson& p = json["params"];
  WorkParams params;
  params.field = done_field<std::string>(p, "field", dir);
  params.ngram = done_field<uint64_t>(p, "ngram", dir);
  params.num_perm = done_field<uint64_t>(p, "num_perm", dir);
  params.threshold = done_field<double>(p, "threshold", dir);
  params.bands = done_field<uint64_t>(p, "bands", dir);
  params.rows = done_field<uint64_t>(p, "rows", dir);
  params.seed = done_field<uint64_t>(p, "seed", dir);
  return params;
}

}  // namespace

std::string signatures_dir(const std::string& work, InputPart part) {
  return work + "/signatures/part-" + std::to_string(part.index) + "-of-" +
         std::to_string(part.count);
}
std::string buckets_dir(const std::string& work, size_t band_begin, size_t band_end) {
  return work + "/buckets/bands-" + std::to_string(band_begin) + "-" + std::to_string(band_end);
}
std::string clusters_dir(const std::string& work) {
  return work + "/clusters";
}
std::string done_path(const std::string& dir) {
  return dir + "/done.json";
}
std::string tmp_dir(const StageOptions& options) {
  return options.tmp.empty() ? options.work + "/tmp" : options.tmp;
}

std::string run_prefix(const StageOptions& options, const std::string& name) {
  if (options.tmp.empty()) return name;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(hash64(absolute_path(options.work))));
  return name + "-" + std::string(hex, 8);
}
size_t sort_memory(const StageOptions& options) {
  return options.memory_bytes - options.memory_bytes / 16;
}

std::string lock_path(const std::string& dir) {
  return dir + ".lock";
}

RunDirectory begin_stage(const StageOptions& options, const std::string& dir,
                         const std::string& name) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw Error(dir + ": cannot create the directory: " + error.message());
  const std::string prefix = run_prefix(options, name);
  RunDirectory::remove_leftovers(tmp_dir(options), prefix);
  return RunDirectory(tmp_dir(options), prefix);
}

void check_stage_options(const StageOptions& options, const std::string& stage, bool inputs) {
  if (options.work.empty()) throw usage_error(stage + ": -o/--work must name the work directory");
  if (!options.dedup.embed_model.empty()) {
    throw usage_error(stage + ": --embed-model is not available in stages; run dedup without them");
  }
  if (inputs) {
    if (options.dedup.inputs.empty()) throw usage_error(stage + ": --input is required");
    for (const std::string& input : options.dedup.inputs) {
      if (input == "-") {
        throw usage_error(stage + ": --input - (stdin) cannot be split into parts; name files");
      }
    }
  }
  if (options.part.count == 0 || options.part.index >= options.part.count) {
    throw usage_error(stage + ": --part must be I/N with 0 <= I < N");
  }
}

std::vector<std::string> part_files(const std::vector<std::string>& inputs, InputPart part) {
  std::vector<std::string> files = expand_inputs(inputs);
  const size_t n = files.size();
  const size_t begin = part.index * n / part.count, end = (part.index + 1) * n / part.count;
  return {files.begin() + static_cast<std::ptrdiff_t>(begin),
          files.begin() + static_cast<std::ptrdiff_t>(end)};
}

void check_params(const std::string& dir, const WorkParams& made, const WorkParams& expected,
                  const std::string& expected_by) {
  const WorkJson a = params_json(made), b = params_json(expected);
  for (const auto& [name, flag] : flag_names()) {
    if (a[name] != b[name]) {
      throw Error(done_path(dir) + ": made with " + flag + " " + a[name].dump() + ", " +
                  expected_by + " has " + b[name].dump());
    }
  }
}

WorkParams work_params(const DedupOptions& options) {
  const LshBands lsh = dedup_banding(options);
  return {options.field, options.ngram, options.num_perm, options.threshold,
          lsh.bands,     lsh.rows,      options.seed};
}

namespace {
std::optional<FileStamp> stamp_of(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{static_cast<uint64_t>(st.st_size),
                   int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
}
}  // namespace

std::vector<FileStamp> file_stamps(const std::vector<std::string>& files) {
  std::vector<FileStamp> stamps;
  for (const std::string& file : files) {
    std::optional<FileStamp> stamp = stamp_of(file);
    if (!stamp) throw_io_error(file, "cannot examine");
    stamps.push_back(*stamp);
  }
  return stamps;
}

void check_inputs_unchanged(const std::string& dir, const SignaturesDone& done,
                            const std::string& stage) {
  for (size_t f = 0; f < done.files.size(); ++f) {
    if (stamp_of(done.files[f]) != done.stamps[f]) {
      throw Error(stage + ": " + done.files[f] + " changed since its signatures were made (" +
                  done_path(dir) + "): use a fresh work directory");
    }
  }
}

uint64_t markers_digest(const std::vector<SignaturesDone>& signatures,
                        const std::vector<BucketsDone>& buckets) {
  std::string hashes;
  for (const SignaturesDone& s : signatures) hashes += std::to_string(s.marker_hash) + ",";
  for (const BucketsDone& b : buckets) hashes += std::to_string(b.marker_hash) + ",";
  return hash64(hashes);
}

void check_made_from(const std::string& dir, uint64_t made_parts, uint64_t parts,
                     uint64_t made_digest, uint64_t digest, const std::string& stage) {
  if (made_parts != parts) {
    throw Error(done_path(dir) + ": made from " + std::to_string(made_parts) +
                " parts, the signatures have " + std::to_string(parts));
  }
  if (made_digest == digest) return;
  throw Error(stage + ": " + done_path(dir) + " was made from other done markers than " +
              "the work directory now holds (a stage before it was redone or its input " +
              "changed): use a fresh work directory");
}

void write_done(const std::string& dir, const SignaturesDone& d) {
  WorkJson stamps = WorkJson::array();
  for (const FileStamp& stamp : d.stamps) {
    stamps.push_back(WorkJson{{"size", stamp.size}, {"mtime_ns", stamp.mtime_ns}});
  }
  write_json(dir, WorkJson{{"stage", "signatures"},
                           {"params", params_json(d.params)},
                           {"part", d.part.index},
                           {"parts", d.part.count},
                           {"files", d.files},
                           {"stamps", stamps},
                           {"lines", d.lines},
                           {"read", d.read},
                           {"rejected", d.rejected}});
}
void write_done(const std::string& dir, const BucketsDone& d) {
  write_json(dir, WorkJson{{"stage", "buckets"},
                           {"params", params_json(d.params)},
                           {"parts", d.parts},
                           {"band_begin", d.band_begin},
                           {"band_end", d.band_end},
                           {"candidates", d.candidates},
                           {"pairs", d.pairs},
                           {"inputs_digest", d.inputs_digest}});
}
void write_done(const std::string& dir, const ClustersDone& d) {
  write_json(dir, WorkJson{{"stage", "clusters"},
                           {"params", params_json(d.params)},
                           {"parts", d.parts},
                           {"lines", d.lines},
                           {"exact_dropped", d.exact_dropped},
                           {"near_dropped", d.near_dropped},
                           {"inputs_digest", d.inputs_digest}});
}

std::optional<SignaturesDone> read_signatures_done(const std::string& dir) {
  SignaturesDone d;
  std::optional<WorkJson> json = read_json(dir, "signatures", &d.marker_hash);
  if (!json) return std::nullopt;
  d.params = params_of(*json, dir);
  d.part.index = done_field<size_t>(*json, "part", dir);
  d.part.count = done_field<size_t>(*json, "parts", dir);
  d.files = done_field<std::vector<std::string>>(*json, "files", dir);
  for (const WorkJson& stamp : done_field<std::vector<WorkJson>>(*json, "stamps", dir)) {
    d.stamps.push_back(
        {done_field<uint64_t>(stamp, "size", dir), done_field<int64_t>(stamp, "mtime_ns", dir)});
  }
  if (d.stamps.size() != d.files.size()) {
    throw Error(done_path(dir) + ": \"stamps\" must have one entry per file");
  }
  d.lines = done_field<uint64_t>(*json, "lines", dir);
  d.read = done_field<uint64_t>(*json, "read", dir);
  d.rejected = done_field<uint64_t>(*json, "rejected", dir);
  return d;
}

std::optional<BucketsDone> read_buckets_done(const std::string& dir, const WorkParams& params) {
  BucketsDone d;
  std::optional<WorkJson> json = read_json(dir, "buckets", &d.marker_hash);
  if (!json) return std::nullopt;
  d.params = params_of(*json, dir);
  check_params(dir, d.params, params, "the signatures");
  d.parts = done_field<uint64_t>(*json, "parts", dir);
  d.band_begin = done_field<uint64_t>(*json, "band_begin", dir);
  d.band_end = done_field<uint64_t>(*json, "band_end", dir);
  d.candidates = done_field<uint64_t>(*json, "candidates", dir);
  d.pairs = done_field<uint64_t>(*json, "pairs", dir);
  d.inputs_digest = done_field<uint64_t>(*json, "inputs_digest", dir);
  return d;
}

std::optional<ClustersDone> read_clusters_done(const std::string& dir, const WorkParams& params) {
  std::optional<WorkJson> json = read_json(dir, "clusters");
  if (!json) return std::nullopt;
  ClustersDone d;
  d.params = params_of(*json, dir);
  check_params(dir, d.params, params, "the signatures");
  d.parts = done_field<uint64_t>(*json, "parts", dir);
  d.lines = done_field<uint64_t>(*json, "lines", dir);
  d.exact_dropped = done_field<uint64_t>(*json, "exact_dropped", dir);
  d.near_dropped = done_field<uint64_t>(*json, "near_dropped", dir);
  d.inputs_digest = done_field<uint64_t>(*json, "inputs_digest", dir);
  return d;
}

// Why the part count is read from the directory names: buckets and clusters are not told it,
// and a work directory holds the parts of one split only (two splits are an error here).
std::vector<SignaturesDone> read_all_signatures(const std::string& work, const std::string& stage) {
  const std::string dir = work + "/signatures";
  std::error_code error;
  std::set<size_t> counts;
  static const std::regex name("part-([0-9]+)-of-([0-9]+)");
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    std::smatch match;
    const std::string file = entry.path().filename().string();
    if (std::regex_match(file, match, name)) counts.insert(std::stoul(match[2].str()));
  }
  if (error && error != std::errc::no_such_file_or_directory) {
    throw Error(dir + ": cannot list: " + error.message());
  }
  if (counts.empty()) {
    throw Error(stage + ": " + dir + " has no parts; run dedup signatures first");
  }
  if (counts.size() > 1) {
    throw Error(stage + ": " + dir + " holds parts of " + std::to_string(*counts.begin()) +
                " and of " + std::to_string(*counts.rbegin()) + "; one work directory per split");
  }
  const size_t count = *counts.begin();
  std::vector<SignaturesDone> parts;
  for (size_t index = 0; index < count; ++index) {
    const std::string part_dir = signatures_dir(work, {index, count});
    std::optional<SignaturesDone> done = read_signatures_done(part_dir);
    if (done && !parts.empty()) {
      check_params(part_dir, done->params, parts[0].params, "part 0 of " + std::to_string(count));
    }
    if (!done) {
      throw Error(stage + ": part " + std::to_string(index) + " of " + std::to_string(count) +
                  " has no signatures yet (" + done_path(part_dir) + ")");
    }
    parts.push_back(std::move(*done));
  }
  return parts;
}

std::vector<BucketsDone> read_all_buckets(const std::string& work, const WorkParams& params,
                                          size_t parts) {
  const std::string dir = work + "/buckets";
  std::vector<BucketsDone> ranges;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (!entry.is_directory()) continue;
    std::optional<BucketsDone> done = read_buckets_done(entry.path().string(), params);
    if (!done) continue;  // not finished: its bands count as missing
    if (done->parts != parts) {
      throw Error(done_path(entry.path().string()) + ": made from " + std::to_string(done->parts) +
                  " parts, the signatures have " + std::to_string(parts));
    }
    ranges.push_back(*done);
  }
  std::vector<bool> covered(params.bands, false);
  for (const BucketsDone& range : ranges) {
    for (uint64_t b = range.band_begin; b < range.band_end && b < params.bands; ++b) {
      covered[b] = true;
    }
  }
  std::string missing;
  for (size_t b = 0; b < covered.size(); ++b) {
    if (!covered[b]) missing += (missing.empty() ? "" : ", ") + std::to_string(b);
  }
  if (!missing.empty()) {
    throw Error("dedup clusters: no finished buckets for band(s) " + missing + " of " +
                std::to_string(params.bands) + " in " + dir + "; run dedup buckets for them");
  }
  std::sort(ranges.begin(), ranges.end(), [](const BucketsDone& a, const BucketsDone& b) {
    return a.band_begin != b.band_begin ? a.band_begin < b.band_begin : a.band_end < b.band_end;
  });
  return ranges;
}

}  // namespace personagen
