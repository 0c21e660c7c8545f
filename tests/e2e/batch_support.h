#pragma once

// What the batch tests share: the requests of an export, answers to them in the Batch API's
// result format, and records compared without what depends on timing.

#include <httplib.h>

#include <algorithm>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "support/e2e_support.h"

namespace personagen::e2e {

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// One line of an export's requests files.
struct ExportedRequest {
  std::string custom_id;
  json body;
  std::string raw_body;  // the body's bytes as written
};

// Every request of the files of `dir` whose names start with `prefix`, in file order.
inline std::vector<ExportedRequest> exported_requests(const fs::path& dir,
                                                      const std::string& prefix = "requests-") {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(".jsonl")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<ExportedRequest> out;
  for (const fs::path& file : files) {
    std::string text = read_file(file);
    size_t begin = 0;
    for (size_t nl; (nl = text.find('\n', begin)) != std::string::npos; begin = nl + 1) {
      std::string line = text.substr(begin, nl - begin);
      json j = json::parse(line);
      std::string marker = "\"body\":";
      size_t at = line.find(marker);
      out.push_back({j["custom_id"], j["body"],
                     line.substr(at + marker.size(), line.size() - at - marker.size() - 1)});
    }
  }
  return out;
}

// A result line in OpenAI's batch output format for `body` (a chat completion) or an error.
inline std::string result_line(const std::string& custom_id, int status, const json& body) {
  json line{{"id", "batch_req_" + custom_id},
            {"custom_id", custom_id},
            {"response", {{"status_code", status}, {"request_id", "req_1"}, {"body", body}}},
            {"error", nullptr}};
  return line.dump() + "\n";
}

// A request the batch never ran, as OpenAI's error file has it.
inline std::string expired_line(const std::string& custom_id) {
  json line{{"id", "batch_req_" + custom_id},
            {"custom_id", custom_id},
            {"response", nullptr},
            {"error",
             {{"code", "batch_expired"},
              {"message",
               "This request could not be executed before the completion window "
               "expired."}}}};
  return line.dump() + "\n";
}

// The server's answer to `body`, as a request sent on its own would get it.
inline json answer(httplib::Client& client, const json& body) {
  auto res = client.Post("/v1/chat/completions", body.dump(), "application/json");
  if (!res) throw std::runtime_error("no answer from the test server");
  return json::parse(res->body);
}

inline std::string shuffled(std::vector<std::string> lines, uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::shuffle(lines.begin(), lines.end(), rng);
  std::string out;
  for (const std::string& l : lines) out += l;
  return out;
}

// A record as JSON, with what depends on timing left out: the test server echoes each request's
// arrival index inside the output, and counts its digits in the completion tokens.
inline json timeless(json record) {
  static const std::regex index(R"(,?\\?"request_index\\?":\d+)");
  if (record.contains("output") && record["output"].is_string())
    record["output"] = std::regex_replace(record["output"].get<std::string>(), index, "");
  if (record.contains("usage")) {
    record["usage"].erase("completion_tokens");
    record["usage"].erase("total_tokens");
  }
  return record;
}

// The records of `dir`'s shards for `task`, by custom_id, timeless.
inline std::map<std::string, json> records_by_id(const fs::path& dir, const std::string& task) {
  std::map<std::string, json> out;
  for (const json& r : read_shards(dir, task)) out[r["custom_id"]] = timeless(r);
  return out;
}

}  // namespace personagen::e2e
