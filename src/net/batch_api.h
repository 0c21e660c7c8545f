#pragma once

// A small blocking client for OpenAI's Files and Batches endpoints (issue 12): upload a JSONL
// file of requests, start a batch over it, follow it, download its output. One call at a time
// on one reused libcurl handle; not thread-safe.
//
// Every method throws personagen::Error with one line naming the method and the URL path (never
// the host's credentials or the key), then the HTTP status and the server's error.message, e.g.
// "POST /v1/batches: 400: endpoint must be /v1/chat/completions", or curl's message for a
// transport error. 401 and 403 throw with ExitCode::error, the code of a refused key (error.h);
// so does everything else, as all of these stop the command. Transport errors, timeouts and
// 408/409/429/5xx replies are retried up to max_retries times with retry_delay()'s backoff
// (honouring Retry-After), and the last error is thrown; create() retries less (see there).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace personagen {

struct BatchApiOptions {
  std::string base_url;  // e.g. "http://127.0.0.1:8080/v1" or "https://api.openai.com/v1"
  std::string api_key;   // "Authorization: Bearer"; may be empty; never logged, never in an error
  double timeout_seconds = 600;  // per call; uploads/downloads of 200 MB need long
  int max_retries = 5;  // for 408/409/429/5xx and transport errors, with retry_delay()'s backoff
};

// A file object of the Files API.
struct RemoteFile {
  std::string id, filename, purpose;
  uint64_t bytes = 0;
};

// True for a batch status that can change no more: completed, failed, expired or cancelled. A
// "cancelling" or "finalizing" batch is not terminal yet.
bool batch_status_terminal(std::string_view status);

// A batch object of the Batches API.
struct RemoteBatch {
  std::string id, status, input_file_id, output_file_id, error_file_id;  // ids empty when null
  uint64_t total = 0, completed = 0, failed = 0;                         // request_counts
  // The server's "errors" as one line ("line 3: invalid_request: message; ..."), empty when none.
  std::string errors;
  std::map<std::string, std::string> metadata;
  bool terminal() const { return batch_status_terminal(status); }
};

class BatchApi {
 public:
  // Keeps the options; connects nothing yet. Throws Error if libcurl cannot be initialised or
  // base_url is empty.
  explicit BatchApi(BatchApiOptions options);
  ~BatchApi();
  BatchApi(const BatchApi&) = delete;
  BatchApi& operator=(const BatchApi&) = delete;

  // POST /files as multipart: purpose=batch, and the file at `path` under the name `filename`,
  // streamed from disk (never read into memory). Returns the server's file object. Throws Error
  // naming `path` if it cannot be read. Retried like any call: an upload that reached the
  // server and is sent again only leaves an unused file there, which costs nothing.
  RemoteFile upload(const std::string& path, const std::string& filename);

  // GET /models: the ids of the models the server offers, in its order (OpenAI, vLLM, llama.cpp
  // and SGLang all answer {"data":[{"id":...},...]}).
  std::vector<std::string> list_models();

  // GET /files?purpose=batch: the batch input and output files the server holds.
  std::vector<RemoteFile> list_files();

  // POST /batches {input_file_id, endpoint:"/v1/chat/completions", completion_window:"24h",
  // metadata}; returns the new batch. Not idempotent, so retried only where no batch can have
  // been made: a failed connect (nothing was sent) and 429/5xx replies (the server answered
  // that it did not take it). A timeout or a connection lost after sending is thrown at once:
  // the batch may exist, and the caller finds it by its metadata in list_batches() rather than
  // paying for a second one.
  RemoteBatch create(const std::string& input_file_id,
                     const std::map<std::string, std::string>& metadata);

  // GET /batches/{id}.
  RemoteBatch get(const std::string& batch_id);

  // GET /batches?limit=100, then again with after=<last_id> while has_more, newest first as the
  // server lists them; stops at `max` batches.
  std::vector<RemoteBatch> list_batches(size_t max = 1000);

  // POST /batches/{id}/cancel; returns the batch (usually "cancelling"). Cancelling twice is
  // harmless, so it is retried like a GET.
  RemoteBatch cancel(const std::string& batch_id);

  // GET /files/{id}/content, streamed to `path` + ".tmp", fsync'd and renamed onto `path`, so
  // `path` is either absent (or as it was) or the whole file: never a partial one. Throws Error
  // naming the file id on an HTTP or transport error, or naming the path on an I/O error; the
  // .tmp file is removed either way.
  void download(const std::string& file_id, const std::string& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses one batch object (as returned by the endpoints above); throws Error naming what is
// missing or of the wrong type. Null or absent ids, request_counts, errors and metadata read as
// empty; "id" and "status" are required.
RemoteBatch parse_batch(std::string_view json);

}  // namespace personagen
