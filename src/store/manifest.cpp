#include "store/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "personagen/error.h"
#include "store/atomic_file.h"
#include "util/file_io.h"
#include "util/hash.h"

namespace personagen {
namespace {

using Json = nlohmann::ordered_json;

std::string quoted(const std::string& value) {
  return "\"" + value + "\"";
}

Json to_json(const Manifest& manifest, const std::string& path) {
  Json config = Json::object();
  for (const auto& [name, value] : manifest.config) {
    if (config.contains(name)) throw Error(path + ": configuration name \"" + name + "\" twice");
    config[name] = value;
  }
  const Checkpoint& checkpoint = manifest.checkpoint;
  const Totals& totals = checkpoint.totals;
  Json shards = Json::array();
  for (const ShardInfo& shard : checkpoint.writer.shards) {
    shards.push_back(Json{{"name", shard.name},
                          {"records", shard.records},
                          {"bytes", shard.bytes},
                          {"open", shard.open}});
  }
  const WriterState& writer = checkpoint.writer;
  Json json{
      {"tool", "personagen"},
      {"version", manifest.tool_version},
      {"complete", manifest.complete},
      {"retry_pass", manifest.retry_pass},
      {"config", std::move(config)},
      {"checkpoint",
       {{"next_line", checkpoint.next.line},
        {"next_offset", checkpoint.next.offset},
        {"next_file", checkpoint.next.file},
        {"next_file_line", checkpoint.next.file_line},
        {"accepted_below", checkpoint.selected_below},
        {"done_above", checkpoint.done_above},
        {"totals",
         {{"records", totals.records},
          {"failed", totals.failed},
          {"rejected", totals.rejected},
          {"unverified", totals.unverified},
          {"below_threshold", totals.below_threshold},
          {"requests", totals.requests},
          {"retries", totals.retries},
          {"prompt_tokens", totals.prompt_tokens},
          {"completion_tokens", totals.completion_tokens},
          {"billed_prompt_tokens", totals.billed_prompt_tokens},
          {"billed_completion_tokens", totals.billed_completion_tokens},
          {"seconds", totals.seconds}}},
        {"journal_seq", checkpoint.journal_seq}}},
      {"shards", std::move(shards)},
  };
  for (const SideFileInfo& side : kSideFiles) {
    const SideFileState& state = writer.side(side.file);
    json[std::string(side.manifest_key)] = Json{{"lines", state.lines}, {"bytes", state.bytes}};
  }
  if (!manifest.server_models.empty()) json["server_models"] = manifest.server_models;
  // Hashes as hex strings: a JSON number above 2^53 loses digits in many readers (jq).
  if (!manifest.input.empty()) {
    Json files = Json::array();
    for (const InputFingerprint& input : manifest.input)
      files.push_back(Json{{"path", input.path},
                           {"size", input.size},
                           {"first_mib_xxh3", hex64(input.head)},
                           {"last_mib_xxh3", hex64(input.tail)}});
    json["input_files"] = std::move(files);
  }
  return json;
}

// Reads the manifest's fields with one error naming the file and the field that is wrong.
class ManifestFieldReader {
 public:
  explicit ManifestFieldReader(const std::string& path) : path_(path) {}

  const Json& at(const Json& object, const char* key, const std::string& where) const {
    if (!object.is_object() || !object.contains(key)) bad(where + key, "missing");
    return object[key];
  }
  uint64_t count(const Json& object, const char* key, const std::string& where = "") const {
    const Json& value = at(object, key, where);
    if (!value.is_number_unsigned()) bad(where + key, "not a non-negative integer");
    return value.get<uint64_t>();
  }
  std::string text(const Json& object, const char* key, const std::string& where = "") const {
    const Json& value = at(object, key, where);
    if (!value.is_string()) bad(where + key, "not a string");
    return value.get<std::string>();
  }
  bool flag(const Json& object, const char* key, const std::string& where = "") const {
    const Json& value = at(object, key, where);
    if (!value.is_boolean()) bad(where + key, "not true or false");
    return value.get<bool>();
  }
  uint64_t hex(const Json& object, const char* key, const std::string& where = "") const {
    std::string value = text(object, key, where);
    uint64_t out = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out, 16);
    if (value.size() != 16 || error != std::errc() || end != value.data() + value.size())
      bad(where + key, "not 16 hex digits");
    return out;
  }
  double number(const Json& object, const char* key, const std::string& where = "") const {
    const Json& value = at(object, key, where);
    if (!value.is_number()) bad(where + key, "not a number");
    return value.get<double>();
  }
  [[noreturn]] void bad(const std::string& field, const char* what) const {
    throw Error(path_ + ": not a personagen manifest: \"" + field + "\" is " + what);
  }

 private:
  const std::string& path_;
};

Manifest from_json(const Json& json, const std::string& path) {
  ManifestFieldReader f(path);
  if (f.text(json, "tool") != "personagen") f.bad("tool", "not \"personagen\"");
  Manifest manifest;
  manifest.tool_version = f.text(json, "version");
  manifest.complete = f.flag(json, "complete");
  manifest.retry_pass = json.contains("retry_pass") && f.flag(json, "retry_pass");
  if (json.contains("server_models")) {
    const Json& models = json["server_models"];
    if (!models.is_array()) f.bad("server_models", "not an array");
    for (const Json& model : models) {
      if (!model.is_string()) f.bad("server_models[]", "not a string");
      manifest.server_models.push_back(model.get<std::string>());
    }
  }

  const Json& config = f.at(json, "config", "");
  if (!config.is_object()) f.bad("config", "not an object");
  for (const auto& [name, value] : config.items()) {
    if (!value.is_string()) f.bad("config." + name, "not a string");
    manifest.config.emplace_back(name, value.get<std::string>());
  }

  // Absent for stdin, and before it was recorded; "input_fingerprint" (one file, no path) before
  // a run could have several inputs.
  if (json.contains("input_files")) {
    const Json& files = json["input_files"];
    if (!files.is_array()) f.bad("input_files", "not an array");
    const std::string w = "input_files[].";
    for (const Json& input : files)
      manifest.input.push_back(InputFingerprint{f.text(input, "path", w), f.count(input, "size", w),
                                                f.hex(input, "first_mib_xxh3", w),
                                                f.hex(input, "last_mib_xxh3", w)});
  } else if (json.contains("input_fingerprint")) {
    const Json& input = json["input_fingerprint"];
    const std::string w = "input_fingerprint.";
    manifest.input.push_back(InputFingerprint{"", f.count(input, "size", w),
                                              f.hex(input, "first_mib_xxh3", w),
                                              f.hex(input, "last_mib_xxh3", w)});
  }

  const Json& cp = f.at(json, "checkpoint", "");
  Checkpoint& checkpoint = manifest.checkpoint;
  checkpoint.next.line = f.count(cp, "next_line", "checkpoint.");
  checkpoint.next.offset = f.count(cp, "next_offset", "checkpoint.");
  // Absent before a run could have several inputs: the first (only) file, where the line within
  // the file is the line.
  checkpoint.next.file = cp.contains("next_file") ? f.count(cp, "next_file", "checkpoint.") : 0;
  checkpoint.next.file_line =
      cp.contains("next_file_line") ? f.count(cp, "next_file_line", "checkpoint.") : 0;
  checkpoint.selected_below = f.count(cp, "accepted_below", "checkpoint.");
  const Json& done = f.at(cp, "done_above", "checkpoint.");
  if (!done.is_array()) f.bad("checkpoint.done_above", "not an array");
  for (const Json& line : done) {
    if (!line.is_number_unsigned()) f.bad("checkpoint.done_above", "not a list of line numbers");
    checkpoint.done_above.push_back(line.get<uint64_t>());
  }
  const Json& t = f.at(cp, "totals", "checkpoint.");
  const std::string tw = "checkpoint.totals.";
  Totals& totals = checkpoint.totals;
  totals.records = f.count(t, "records", tw);
  totals.failed = f.count(t, "failed", tw);
  totals.rejected = f.count(t, "rejected", tw);
  // Absent in manifests written before unverified.jsonl existed: none then.
  totals.unverified = t.contains("unverified") ? f.count(t, "unverified", tw) : 0;
  // Absent in manifests written before below-threshold.jsonl existed: none then.
  totals.below_threshold = t.contains("below_threshold") ? f.count(t, "below_threshold", tw) : 0;
  totals.requests = f.count(t, "requests", tw);
  totals.retries = f.count(t, "retries", tw);
  totals.prompt_tokens = f.count(t, "prompt_tokens", tw);
  totals.completion_tokens = f.count(t, "completion_tokens", tw);
  totals.seconds = f.number(t, "seconds", tw);
  // Absent in manifests of earlier versions, which counted only the accepted replies.
  totals.billed_prompt_tokens = t.contains("billed_prompt_tokens")
                                    ? f.count(t, "billed_prompt_tokens", tw)
                                    : totals.prompt_tokens;
  totals.billed_completion_tokens = t.contains("billed_completion_tokens")
                                        ? f.count(t, "billed_completion_tokens", tw)
                                        : totals.completion_tokens;
  checkpoint.journal_seq =
      cp.contains("journal_seq") ? f.count(cp, "journal_seq", "checkpoint.") : 0;

  WriterState& writer = checkpoint.writer;
  const Json& shards = f.at(json, "shards", "");
  if (!shards.is_array()) f.bad("shards", "not an array");
  for (const Json& s : shards) {
    ShardInfo& shard = writer.shards.emplace_back();
    shard.name = f.text(s, "name", "shards[].");
    shard.records = f.count(s, "records", "shards[].");
    shard.bytes = f.count(s, "bytes", "shards[].");
    shard.open = f.flag(s, "open", "shards[].");
  }
  for (const SideFileInfo& side : kSideFiles) {
    const std::string key(side.manifest_key);
    if (!side.always_recorded && !json.contains(key)) continue;  // older manifest: empty
    const Json& object = f.at(json, key.c_str(), "");
    SideFileState& state = writer.side(side.file);
    state.lines = f.count(object, "lines", key + ".");
    state.bytes = f.count(object, "bytes", key + ".");
  }
  return manifest;
}

}  // namespace

void write_manifest(const std::string& path, const Manifest& manifest) {
  std::string text;
  try {
    text = to_json(manifest, path).dump(2) + "\n";
  } catch (const Json::type_error& e) {  // a string that is not UTF-8
    throw Error(path + ": cannot write: " + e.what());
  }
  write_file_atomic(path, text);
}

std::optional<Manifest> read_manifest(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_io_error(path, "cannot open");
  }
  std::string text;
  char chunk[64 << 10];  // a manifest is a few KiB: one read, on the stack
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw_io_error(path, "read failed", err);
    }
    if (n == 0) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw Error(path + ": not a personagen manifest: " + e.what());
  }
  return from_json(json, path);
}

std::string describe_config_difference(const RunConfig& before, const RunConfig& now) {
  std::unordered_map<std::string, const std::string*> old_values;
  for (const auto& [name, value] : before) old_values.emplace(name, &value);
  std::unordered_map<std::string, const std::string*> new_values;
  for (const auto& [name, value] : now) new_values.emplace(name, &value);

  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : "; ") + part; };
  for (const auto& [name, value] : now) {
    if (new_values.at(name) != &value) continue;  // a repeated name: the first one counts
    auto old = old_values.find(name);
    if (old == old_values.end()) {
      add(name + " is new (" + quoted(value) + ")");
    } else if (*old->second != value) {
      add(name + " was " + quoted(*old->second) + ", now " + quoted(value));
    }
  }
  for (const auto& [name, value] : before) {
    if (old_values.at(name) != &value) continue;
    if (!new_values.contains(name)) add(name + " is gone (was " + quoted(value) + ")");
  }
  return out;
}

}  // namespace personagen
