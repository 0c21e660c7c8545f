#include "dedup/embedding_client.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "personagen/error.h"
#include "util/json_text.h"

namespace personagen {
namespace {

using Json = nlohmann::json;

struct KeyHash {
  size_t operator()(const EmbeddingKey& key) const { return key.low; }
};

// One line of an error for a log: reply text cut to a readable length.
std::string excerpt(std::string_view text) {
  constexpr size_t kMax = 200;  // enough to show what the server said, on one line
  std::string out;
  append_json_string(out, text.substr(0, kMax));
  return out;
}

}  // namespace

std::string embeddings_url(std::string_view base_url) {
  while (base_url.ends_with('/')) base_url.remove_suffix(1);
  return std::string(base_url) + "/embeddings";
}

std::string build_embeddings_body(std::string_view model, std::span<const std::string> texts) {
  std::string body = "{\"model\":";
  append_json_string(body, model);
  body += ",\"input\":[";
  for (size_t i = 0; i < texts.size(); ++i) {
    if (i > 0) body += ',';
    append_json_string(body, texts[i]);
  }
  body += "]}";
  return body;
}

bool parse_embeddings_reply(std::string_view body, size_t count,
                            std::vector<std::vector<float>>& vectors, std::string& error) {
  vectors.assign(count, {});
  Json reply = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded() || !reply.is_object()) {
    error = "embeddings reply is not a JSON object: " + excerpt(body);
    return false;
  }
  auto data = reply.find("data");
  if (data == reply.end() || !data->is_array()) {
    error = "embeddings reply has no \"data\" array: " + excerpt(body);
    return false;
  }
  if (data->size() != count) {
    error = "embeddings reply has " + std::to_string(data->size()) + " vectors for " +
            std::to_string(count) + " inputs";
    return false;
  }
  size_t dimension = 0;
  for (size_t position = 0; position < data->size(); ++position) {
    const Json& item = (*data)[position];
    size_t index = position;
    if (!item.is_object()) {
      error = "embeddings reply: data[" + std::to_string(position) + "] is not an object";
      return false;
    }
    if (auto it = item.find("index"); it != item.end()) {
      if (!it->is_number_unsigned() || it->get<uint64_t>() >= count) {
        error = "embeddings reply: data[" + std::to_string(position) + "] has a bad index";
        return false;
      }
      index = it->get<size_t>();
    }
    auto embedding = item.find("embedding");
    if (embedding == item.end() || !embedding->is_array() || embedding->empty()) {
      error = "embeddings reply: data[" + std::to_string(position) +
              "] has no \"embedding\" array of numbers";
      return false;
    }
    std::vector<float>& vector = vectors[index];
    if (!vector.empty()) {
      error = "embeddings reply: index " + std::to_string(index) + " appears twice";
      return false;
    }
    vector.reserve(embedding->size());
    for (const Json& value : *embedding) {
      if (!value.is_number() || !std::isfinite(value.get<double>())) {
        error = "embeddings reply: data[" + std::to_string(position) +
                "].embedding holds something other than a finite number";
        return false;
      }
      vector.push_back(static_cast<float>(value.get<double>()));
    }
    if (dimension == 0) dimension = vector.size();
    if (vector.size() != dimension) {
      error = "embeddings reply: vectors of dimensions " + std::to_string(dimension) + " and " +
              std::to_string(vector.size());
      return false;
    }
  }
  return true;
}

EmbeddingFetchStats fetch_embeddings(Transport& transport, const EmbeddingFetchOptions& options,
                                     const std::function<bool(std::string& text)>& next_text,
                                     EmbeddingCache& cache, const std::atomic<int>& interrupt) {
  EmbeddingFetchStats stats;
  RequestPool pool(transport, options.pool);
  // The batches in flight or waiting for a retry, by tag: the key of each of their texts.
  std::unordered_map<uint64_t, std::vector<EmbeddingKey>> batches;
  // Replies judged good, by tag, waiting for finish() to cache them.
  std::unordered_map<uint64_t, std::vector<std::vector<float>>> replies;
  std::unordered_set<EmbeddingKey, KeyHash> pending;
  uint64_t next_tag = 0;
  bool input_done = false;
  std::string failure;

  RequestPool::Hooks hooks;
  hooks.next = [&](Job& job) {
    if (input_done || !failure.empty()) return false;
    std::vector<std::string> texts;
    std::vector<EmbeddingKey> keys;
    std::string text;
    while (texts.size() < options.batch) {
      if (!next_text(text)) {
        input_done = true;
        break;
      }
      ++stats.texts;
      EmbeddingKey key = embedding_key(options.model, text);
      if (cache.contains(key) || !pending.insert(key).second) {
        ++stats.cached;
        continue;
      }
      keys.push_back(key);
      texts.push_back(std::move(text));
    }
    if (texts.empty()) return false;
    job.id.line = next_tag++;
    job.body = build_embeddings_body(options.model, texts);
    batches.emplace(job.id.line, std::move(keys));
    ++stats.requests;
    return true;
  };
  hooks.judge = [&](const Job& job, const HttpResponse& response) {
    std::vector<std::vector<float>> vectors;
    std::string error;
    if (!parse_embeddings_reply(response.body, batches.at(job.id.line).size(), vectors, error)) {
      return Verdict::retry(FailureKind::bad_json, error);
    }
    replies[job.id.line] = std::move(vectors);
    return Verdict::accept();
  };
  hooks.finish = [&](const Job& job, const HttpResponse&, const Verdict& verdict) {
    auto batch = batches.find(job.id.line);
    if (verdict.action == Verdict::Action::accept) {
      std::vector<std::vector<float>>& vectors = replies.at(job.id.line);
      for (size_t i = 0; i < vectors.size(); ++i) cache.put(batch->second[i], vectors[i]);
      stats.fetched += vectors.size();
      replies.erase(job.id.line);
    } else if (failure.empty()) {
      failure = verdict.reason;
      pool.request_stop(1);
    }
    for (const EmbeddingKey& key : batch->second) pending.erase(key);
    batches.erase(batch);
  };

  RequestPool::Stop stop = pool.run(hooks, interrupt);
  stats.retries = pool.retries();
  cache.sync();
  if (stop == RequestPool::Stop::fatal) {
    throw Error("embeddings: " + pool.fatal_reason() + " (the " + std::to_string(cache.size()) +
                " embeddings fetched so far are kept in " + cache.path() + ")");
  }
  if (!failure.empty()) {
    throw Error("embeddings: a request failed: " + failure + " (the " +
                std::to_string(cache.size()) + " embeddings fetched so far are kept in " +
                cache.path() + "; rerun to fetch the rest)");
  }
  if (stop == RequestPool::Stop::interrupted) {
    throw Error("interrupted; the " + std::to_string(cache.size()) +
                    " embeddings fetched so far are kept in " + cache.path() +
                    "; rerun the same command to resume",
                ExitCode::interrupted);
  }
  return stats;
}

}  // namespace personagen
