#include "store/batch_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "personagen/error.h"
#include "store/atomic_file.h"
#include "util/file_io.h"

namespace personagen {
namespace {

using Json = nlohmann::ordered_json;

// The options that shape a request or a record: what `batch export` takes from synth's flags, and
// what an import needs to rebuild the same requests and write the same records. The endpoint,
// the key and the pool's flags are not here: no request of an import goes to the network.
Json options_to_json(const Options& o) {
  Json j{{"inputs", o.inputs},
         {"fields", o.fields},
         {"limit", o.limit},
         {"match", o.match},
         {"exclude", o.exclude},
         {"where", o.where},
         {"sample", o.sample},
         {"part", o.part},
         {"task", o.task},
         {"method", o.method},
         {"prompts_dir", o.prompts_dir},
         {"template_file", o.template_file},
         {"world_file", o.world_file},
         {"seed", o.seed},
         {"relations", o.relations},
         {"max_input_bytes", o.max_input_bytes},
         {"shots", o.shots},
         {"samples", o.samples},
         {"agree", o.agree},
         {"turns", o.turns},
         {"keep_reasoning", o.keep_reasoning},
         {"model", o.model},
         {"system", o.system},
         {"extra_body", o.extra_body},
         {"format", o.format},
         {"shard_size", o.shard_size},
         {"rubric", o.rubric},
         {"structured", o.structured},
         {"schema_file", o.schema_file}};
  if (o.temperature) j["temperature"] = *o.temperature;
  if (o.top_p) j["top_p"] = *o.top_p;
  if (o.max_tokens) j["max_tokens"] = *o.max_tokens;
  if (o.price_in) j["price_in"] = *o.price_in;
  if (o.price_out) j["price_out"] = *o.price_out;
  if (o.min_score) j["min_score"] = *o.min_score;
  return j;
}

template <typename T>
void take(const Json& j, const char* name, T& field) {
  if (j.contains(name)) field = j.at(name).get<T>();
}

template <typename T>
void take(const Json& j, const char* name, std::optional<T>& field) {
  if (j.contains(name)) field = j.at(name).get<T>();
}

Options options_from_json(const Json& j) {
  Options o;
  take(j, "inputs", o.inputs);
  take(j, "fields", o.fields);
  take(j, "limit", o.limit);
  take(j, "match", o.match);
  take(j, "exclude", o.exclude);
  take(j, "where", o.where);
  take(j, "sample", o.sample);
  take(j, "part", o.part);
  take(j, "task", o.task);
  take(j, "method", o.method);
  take(j, "prompts_dir", o.prompts_dir);
  take(j, "template_file", o.template_file);
  take(j, "world_file", o.world_file);
  take(j, "seed", o.seed);
  take(j, "relations", o.relations);
  take(j, "max_input_bytes", o.max_input_bytes);
  take(j, "shots", o.shots);
  take(j, "samples", o.samples);
  take(j, "agree", o.agree);
  take(j, "turns", o.turns);
  take(j, "keep_reasoning", o.keep_reasoning);
  take(j, "model", o.model);
  take(j, "system", o.system);
  take(j, "extra_body", o.extra_body);
  take(j, "format", o.format);
  take(j, "shard_size", o.shard_size);
  take(j, "temperature", o.temperature);
  take(j, "top_p", o.top_p);
  take(j, "max_tokens", o.max_tokens);
  take(j, "price_in", o.price_in);
  take(j, "price_out", o.price_out);
  take(j, "rubric", o.rubric);
  take(j, "min_score", o.min_score);
  // An export from before structured outputs sent no response_format.
  o.structured = "off";
  take(j, "structured", o.structured);
  take(j, "schema_file", o.schema_file);
  return o;
}

Json file_to_json(const BatchFile& f) {
  return Json{{"name", f.name},
              {"round", f.round},
              {"requests", f.requests},
              {"bytes", f.bytes},
              {"upload_started", f.upload_started},
              {"file_id", f.file_id},
              {"create_started", f.create_started},
              {"batch_id", f.batch_id},
              {"status", f.status},
              {"completed", f.completed},
              {"failed", f.failed},
              {"errors", f.errors},
              {"output_file_id", f.output_file_id},
              {"error_file_id", f.error_file_id},
              {"downloaded", f.downloaded},
              {"cancel_sent", f.cancel_sent}};
}

BatchFile file_from_json(const Json& j) {
  BatchFile f;
  f.name = j.at("name").get<std::string>();
  take(j, "round", f.round);
  take(j, "requests", f.requests);
  take(j, "bytes", f.bytes);
  take(j, "upload_started", f.upload_started);
  take(j, "file_id", f.file_id);
  take(j, "create_started", f.create_started);
  take(j, "batch_id", f.batch_id);
  take(j, "status", f.status);
  take(j, "completed", f.completed);
  take(j, "failed", f.failed);
  take(j, "errors", f.errors);
  take(j, "output_file_id", f.output_file_id);
  take(j, "error_file_id", f.error_file_id);
  take(j, "downloaded", f.downloaded);
  take(j, "cancel_sent", f.cancel_sent);
  return f;
}

}  // namespace

void write_batch_state(const std::string& path, const BatchState& state) {
  Json files = Json::array();
  for (const BatchFile& f : state.files) files.push_back(file_to_json(f));
  Json json{{"tool", "personagen"},
            {"run_id", state.run_id},
            {"imported_round", state.imported_round},
            {"cancelled", state.cancelled},
            {"options", options_to_json(state.options)},
            {"files", std::move(files)}};
  write_file_atomic(path, json.dump(2) + "\n");
}

std::optional<BatchState> read_batch_state(const std::string& path) {
  std::optional<std::string> text = read_text_file(path);
  if (!text) return std::nullopt;
  try {
    Json json = Json::parse(*text);
    BatchState state;
    state.run_id = json.at("run_id").get<std::string>();
    take(json, "imported_round", state.imported_round);
    take(json, "cancelled", state.cancelled);
    state.options = options_from_json(json.at("options"));
    for (const Json& f : json.at("files")) state.files.push_back(file_from_json(f));
    return state;
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not a personagen batch state (" + e.what() +
                "); remove the directory's batch files, or export into a new directory");
  }
}

BatchState update_batch_state(const std::string& path,
                              const std::function<void(BatchState&)>& change) {
  std::string lock_path = path + ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw_io_error(lock_path, "cannot open");
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      int err = errno;
      ::close(fd);
      throw_io_error(lock_path, "cannot lock", err);
    }
  }
  try {
    std::optional<BatchState> state = read_batch_state(path);
    if (!state) throw Error(path + ": no batch state (was the directory removed?)");
    change(*state);
    write_batch_state(path, *state);
    ::close(fd);  // releases the lock
    return *state;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

}  // namespace personagen
