#include "dedup/embedding_client.h"

#include <algorithm>
#include <any>
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

namespace {

// The pool's owner for one fetch: batches the texts not cached yet, checks each reply and caches
// its vectors. Stops the fetch at the first batch that fails for good.
class EmbeddingFetch final : public JobOwner {
 public:
  EmbeddingFetch(const EmbeddingFetchOptions& options,
                 const std::function<bool(std::string& text)>& next_text, EmbeddingCache& cache,
                 RequestPool& pool, EmbeddingFetchStats& stats)
      : options_(options), next_text_(next_text), cache_(cache), pool_(pool), stats_(stats) {}

  const std::string& failure() const { return failure_; }

  bool next(Job& job) override {
    if (input_done_ || !failure_.empty()) return false;
    std::vector<std::string> texts;
    std::vector<EmbeddingKey> keys;
    std::string text;
    while (texts.size() < options_.batch) {
      if (!next_text_(text)) {
        input_done_ = true;
        break;
      }
      ++stats_.texts;
      EmbeddingKey key = embedding_key(options_.model, text);
      if (cache_.contains(key) || !pending_.insert(key).second) {
        ++stats_.cached;
        continue;
      }
      keys.push_back(key);
      texts.push_back(std::move(text));
    }
    if (texts.empty()) return false;
    job.id.line = next_batch_++;
    job.body = build_embeddings_body(options_.model, texts);
    batches_.emplace(job.id.line, std::move(keys));
    ++stats_.requests;
    return true;
  }

  Verdict judge(const Job& job, const HttpResponse& response) override {
    std::vector<std::vector<float>> vectors;
    std::string error;
    if (!parse_embeddings_reply(response.body, batches_.at(job.id.line).size(), vectors, error)) {
      return Verdict::retry(FailureKind::bad_json, error);
    }
    Verdict verdict = Verdict::accept();
    verdict.output = std::move(vectors);
    return verdict;
  }

  void finish(const Job& job, const HttpResponse&, Verdict verdict) override {
    auto batch = batches_.find(job.id.line);
    if (verdict.action == Verdict::Action::accept) {
      auto& vectors = std::any_cast<std::vector<std::vector<float>>&>(verdict.output);
      for (size_t i = 0; i < vectors.size(); ++i) cache_.put(batch->second[i], vectors[i]);
      stats_.fetched += vectors.size();
    } else if (failure_.empty()) {
      failure_ = verdict.reason;
      pool_.request_stop(1);
    }
    for (const EmbeddingKey& key : batch->second) pending_.erase(key);
    batches_.erase(batch);
  }

 private:
  const EmbeddingFetchOptions& options_;
  const std::function<bool(std::string& text)>& next_text_;
  EmbeddingCache& cache_;
  RequestPool& pool_;
  EmbeddingFetchStats& stats_;
  // The batches in flight or waiting for a retry, by the job's id: the key of each of their texts.
  std::unordered_map<uint64_t, std::vector<EmbeddingKey>> batches_;
  std::unordered_set<EmbeddingKey, KeyHash> pending_;  // texts in those batches
  uint64_t next_batch_ = 0;
  bool input_done_ = false;
  std::string failure_;
};

}  // namespace

EmbeddingFetchStats fetch_embeddings(Transport& transport, const EmbeddingFetchOptions& options,
                                     const std::function<bool(std::string& text)>& next_text,
                                     EmbeddingCache& cache, const std::atomic<int>& interrupt) {
  EmbeddingFetchStats stats;
  RequestPool pool(transport, options.pool);
  EmbeddingFetch fetch(options, next_text, cache, pool, stats);
  RequestPool::Stop stop = pool.run(fetch, interrupt);
  const std::string& failure = fetch.failure();
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

EmbeddingFetchStats fetch_embeddings(const EmbeddingService& service,
                                     const std::function<bool(std::string& text)>& next_text,
                                     EmbeddingCache& cache, const std::atomic<int>& interrupt) {
  TransportOptions transport_options;
  for (const std::string& base : service.base_urls)
    transport_options.urls.push_back(embeddings_url(base));
  transport_options.api_key = service.api_key;
  transport_options.timeout_seconds = service.timeout_seconds;
  transport_options.max_connections = static_cast<size_t>(service.concurrency);
  // An embeddings reply grows with the batch: 3,072 floats as JSON text are about 60 KB.
  transport_options.max_reply_bytes =
      std::max<uint64_t>(transport_options.max_reply_bytes, uint64_t{256 << 10} * service.batch);
  std::unique_ptr<Transport> transport = make_curl_transport(transport_options);
  EmbeddingFetchOptions fetch_options;
  fetch_options.model = service.model;
  fetch_options.batch = service.batch;
  fetch_options.pool.concurrency = static_cast<size_t>(service.concurrency);
  fetch_options.pool.retry.max_retries = service.max_retries;
  fetch_options.pool.seed = service.seed;
  return fetch_embeddings(*transport, fetch_options, next_text, cache, interrupt);
}

}  // namespace personagen
