#include "batch_replies.h"

#include <nlohmann/json.hpp>
#include <unordered_set>

namespace personagen::testing::detail {

using Json = nlohmann::ordered_json;

namespace {

Json nullable(const std::optional<std::time_t>& when) {
  return when ? Json(*when) : Json(nullptr);
}

Json nullable(const std::string& id) {
  return id.empty() ? Json(nullptr) : Json(id);
}

Json file_object(const FileObject& file) {
  return {{"id", file.id},
          {"object", "file"},
          {"bytes", file.bytes},
          {"created_at", file.created_at},
          {"filename", file.filename},
          {"purpose", file.purpose}};
}

Json batch_object(const BatchObject& batch) {
  Json errors = nullptr;
  if (!batch.errors.empty()) {
    errors = {{"object", "list"}, {"data", Json::array()}};
    for (const BatchLineError& error : batch.errors) {
      errors["data"].push_back({{"code", error.code},
                                {"message", error.message},
                                {"param", nullptr},
                                {"line", error.line > 0 ? Json(error.line) : Json(nullptr)}});
    }
  }
  constexpr std::time_t kDay = 24 * 60 * 60;
  return {{"id", batch.id},
          {"object", "batch"},
          {"endpoint", batch.endpoint},
          {"errors", std::move(errors)},
          {"input_file_id", batch.input_file_id},
          {"completion_window", batch.completion_window},
          {"status", batch.status},
          {"output_file_id", nullable(batch.output_file_id)},
          {"error_file_id", nullable(batch.error_file_id)},
          {"created_at", batch.created_at},
          {"in_progress_at", nullable(batch.in_progress_at)},
          {"expires_at", batch.created_at + kDay},
          {"finalizing_at", nullable(batch.finalizing_at)},
          {"completed_at", nullable(batch.completed_at)},
          {"failed_at", nullable(batch.failed_at)},
          {"expired_at", nullable(batch.expired_at)},
          {"cancelling_at", nullable(batch.cancelling_at)},
          {"cancelled_at", nullable(batch.cancelled_at)},
          {"request_counts",
           {{"total", batch.total}, {"completed", batch.completed}, {"failed", batch.failed}}},
          {"metadata", Json::parse(batch.metadata)}};
}

// The reason a batch input line is bad, as OpenAI's error code and message; nullopt if it is
// good, and then its custom_id joins `seen`.
std::optional<std::pair<std::string, std::string>> input_line_error(
    const Json& line, const std::string& endpoint, std::unordered_set<std::string>& seen) {
  using Error = std::pair<std::string, std::string>;
  if (!line.is_object()) return Error{"invalid_request", "line is not a JSON object"};
  auto custom_id = line.find("custom_id");
  if (custom_id == line.end() || !custom_id->is_string()) {
    return Error{"invalid_request", "custom_id must be a string"};
  }
  if (line.value("method", Json()) != "POST")
    return Error{"invalid_request", "method must be POST"};
  if (line.value("url", Json()) != endpoint) {
    return Error{"invalid_request", "url must be the batch's endpoint " + endpoint};
  }
  auto body = line.find("body");
  if (body == line.end() || !body->is_object()) {
    return Error{"invalid_request", "body must be a JSON object"};
  }
  if (!seen.insert(custom_id->get<std::string>()).second) {
    return Error{"duplicate_custom_id",
                 "custom_id '" + custom_id->get<std::string>() + "' is used more than once"};
  }
  return std::nullopt;
}

}  // namespace

std::string file_json(const FileObject& file) {
  return file_object(file).dump();
}

std::string file_list_json(const std::vector<FileObject>& files) {
  Json data = Json::array();
  for (const FileObject& file : files) data.push_back(file_object(file));
  return Json{{"object", "list"}, {"data", std::move(data)}, {"has_more", false}}.dump();
}

std::string batch_json(const BatchObject& batch) {
  return batch_object(batch).dump();
}

std::string batch_list_json(const std::vector<const BatchObject*>& page, bool has_more) {
  Json data = Json::array();
  for (const BatchObject* batch : page) data.push_back(batch_object(*batch));
  Json first = page.empty() ? Json(nullptr) : Json(page.front()->id);
  Json last = page.empty() ? Json(nullptr) : Json(page.back()->id);
  return Json{{"object", "list"},
              {"data", std::move(data)},
              {"first_id", first},
              {"last_id", last},
              {"has_more", has_more}}
      .dump();
}

std::optional<BatchCreate> parse_batch_create(const std::string& body, std::string& error) {
  Json request = Json::parse(body, nullptr, false);
  if (!request.is_object()) {
    error = "batches: the body must be a JSON object";
    return std::nullopt;
  }
  BatchCreate create;
  for (auto [name, value] :
       {std::pair{"input_file_id", &create.input_file_id}, std::pair{"endpoint", &create.endpoint},
        std::pair{"completion_window", &create.completion_window}}) {
    auto member = request.find(name);
    if (member == request.end() || !member->is_string()) {
      error = std::string("batches: ") + name + " must be a string";
      return std::nullopt;
    }
    *value = member->get<std::string>();
  }
  Json metadata = request.value("metadata", Json());
  if (!metadata.is_null() && !metadata.is_object()) {
    error = "batches: metadata must be an object";
    return std::nullopt;
  }
  create.metadata = metadata.dump();
  return create;
}

std::vector<BatchInputLine> parse_batch_input(const std::string& content,
                                              const std::string& endpoint,
                                              std::vector<BatchLineError>& errors) {
  std::vector<BatchInputLine> lines;
  std::unordered_set<std::string> seen;
  size_t number = 0;
  bool any = false;
  for (size_t at = 0; at < content.size();) {
    size_t end = std::min(content.find('\n', at), content.size());
    std::string_view text(content.data() + at, end - at);
    at = end + 1;
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    any = true;
    Json line = Json::parse(text, nullptr, false);
    if (auto error = input_line_error(line, endpoint, seen)) {
      errors.push_back({error->first, error->second, number});
    } else {
      lines.push_back({line["custom_id"].get<std::string>(), line["body"].dump()});
    }
  }
  if (!any) errors.push_back({"empty_file", "the input file has no requests", 0});
  return lines;
}

std::string batch_result_line(size_t number, const std::string& custom_id, int status,
                              const std::string& body) {
  Json parsed = Json::parse(body, nullptr, false);
  if (parsed.is_discarded()) parsed = body;
  Json response = {{"status_code", status},
                   {"request_id", "req_" + std::to_string(number)},
                   {"body", std::move(parsed)}};
  return Json{{"id", "batch_req_" + std::to_string(number)},
              {"custom_id", custom_id},
              {"response", std::move(response)},
              {"error", nullptr}}
      .dump();
}

std::string batch_unrun_line(size_t number, const std::string& custom_id, std::string_view code) {
  std::string message = code == "batch_expired"
                            ? "This request could not be executed before the batch expired."
                            : "This request was not executed because the batch was cancelled.";
  return Json{{"id", "batch_req_" + std::to_string(number)},
              {"custom_id", custom_id},
              {"response", nullptr},
              {"error", {{"code", code}, {"message", message}}}}
      .dump();
}

}  // namespace personagen::testing::detail
