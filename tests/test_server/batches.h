#pragma once

// The test server's Files and Batches endpoints (OpenAI's Batch API) and the workers that run a
// batch's lines through the chat code path. The routes and what they answer are listed in
// test_server.h; this class holds the files and batches in memory and knows nothing of chat.

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "batch_replies.h"
#include "replies.h"

namespace personagen::testing::detail {

// What one batch line gets from the chat code path: an HTTP status and a JSON body (a
// chat.completion or an OpenAI error body).
struct LineReply {
  int status = 0;
  std::string body;
};

// The batch faults of ServerOptions (test_server.h says what each does).
struct BatchOptions {
  int delay_ms = 0;
  int line_delay_ms = 0;
  int expire_after = -1;
  int expire_batches = 0;
  bool fail_validation = false;
  uint64_t seed = 1;
};

class Batches {
 public:
  // Runs one line's body as POST /v1/chat/completions would, without a socket. Called from the
  // batch workers, never with this class's lock held.
  using RunLine = std::function<LineReply(const std::string& body)>;
  // Wraps a route's handler in the server's checks (the API key), which answer for it on failure.
  using Guard = std::function<httplib::Server::Handler(httplib::Server::Handler)>;

  Batches(BatchOptions options, RunLine run_line);
  ~Batches();  // stop()

  Batches(const Batches&) = delete;
  Batches& operator=(const Batches&) = delete;

  // Adds the /v1/files and /v1/batches routes to `server`, each wrapped by `guard`.
  void route(httplib::Server& server, const Guard& guard);

  // Ends every worker at once (a batch being run stays as it was) and joins them. Idempotent;
  // batches created afterwards get 503.
  void stop();

  std::vector<std::string> uploaded_filenames() const;
  size_t batches_created() const;
  size_t batch_cancels() const;
  size_t batch_polls() const;
  std::vector<std::string> line_bodies() const;
  bool wait_for_status(const std::string& id, const std::string& status,
                       std::chrono::milliseconds timeout) const;
  bool wait_for_lines(size_t n, std::chrono::milliseconds timeout) const;

 private:
  struct StoredFile : FileObject {
    std::string content;
  };
  struct Batch : BatchObject {
    bool expires = false;  // one of the first expire_batches batches
  };

  void on_upload(const httplib::Request& req, httplib::Response& res);
  void on_list_files(const httplib::Request& req, httplib::Response& res);
  void on_get_file(const httplib::Request& req, httplib::Response& res);
  void on_file_content(const httplib::Request& req, httplib::Response& res);
  void on_create(const httplib::Request& req, httplib::Response& res);
  void on_list(const httplib::Request& req, httplib::Response& res);
  void on_get(const httplib::Request& req, httplib::Response& res);
  void on_cancel(const httplib::Request& req, httplib::Response& res);

  // The worker of batch number `index`, from validation to its final status.
  void run(size_t index);
  // Waits up to `duration` or until stop() or a cancel of `batch`; false if stop() ended it.
  bool pause(std::unique_lock<std::mutex>& lock, const Batch& batch,
             std::chrono::milliseconds duration);
  // Stores a file and returns its id. Needs the lock.
  std::string add_file(std::string filename, std::string purpose, std::string content);
  // The file or batch an id names, or null. Need the lock.
  StoredFile* find_file(std::string_view id);
  Batch* find_batch(std::string_view id);

  const BatchOptions options_;
  const RunLine run_line_;

  mutable std::mutex mutex_;
  // A batch changed, a line ran, or stop() began: wakes workers' pauses and tests' waits.
  mutable std::condition_variable changed_;
  bool stopping_ = false;
  std::deque<StoredFile> files_;  // file number n has id "file-<n>"; deque: references stay put
  std::deque<Batch> batches_;     // batch number n has id "batch_<n>"
  std::vector<std::thread> workers_;
  std::vector<std::string> uploaded_filenames_;
  std::vector<std::string> line_bodies_;
  size_t cancels_ = 0;
  size_t polls_ = 0;
  size_t next_request_ = 0;  // numbers "batch_req_<n>" and "req_<n>"
};

}  // namespace personagen::testing::detail
