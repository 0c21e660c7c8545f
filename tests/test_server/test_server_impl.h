#pragma once

// TestServer's state, shared by test_server.cpp (the routes and what they answer) and
// test_server_api.cpp (the accessors tests call).

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "batches.h"
#include "faults.h"
#include "test_server.h"

namespace personagen::testing {

using namespace detail;

class TestServer::Impl {
 public:
  explicit Impl(ServerOptions options);
  ~Impl() { stop(); }

  void stop();

  ServerOptions options_;
  RandomFaults random_faults_;
  httplib::Server server_;
  std::thread listener_;
  int port_ = 0;
  socket_t listen_socket_ = -1;  // set by httplib's socket_options callback

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;  // ready_, stopping_ or the request lists changed
  bool ready_ = false;
  bool stopping_ = false;
  std::vector<std::string> chat_bodies_;
  std::vector<std::string> embedding_bodies_;
  std::vector<std::string> authorizations_;
  std::unordered_map<uint64_t, uint64_t> attempts_;  // body hash -> requests seen
  size_t next_index_ = 0;  // of the next chat reply, over HTTP requests and batch lines alike
  size_t in_flight_ = 0;
  size_t max_in_flight_ = 0;
  size_t response_format_requests_ = 0;

  std::mutex stop_mutex_;
  bool stopped_ = false;

  // Last, so its workers, which call into the members above, end before those are destroyed.
  Batches batches_;

 private:
  // What a chat request gets before it meets a socket: a status and a JSON body, and a fault
  // still to inject into them.
  struct ChatOutcome {
    int status = 200;
    std::string body;
    std::optional<Fault> fault;
  };
  // Everything POST /v1/chat/completions does with a body once it is authorized, for the
  // request or batch line that is the `index`-th chat reply.
  ChatOutcome chat_outcome(const std::string& body, size_t index);
  // A batch line: chat_outcome() with the faults that need a socket turned into a 500.
  LineReply batch_line(const std::string& body);
  void on_chat(const httplib::Request& req, httplib::Response& res);
  void on_embeddings(const httplib::Request& req, httplib::Response& res);
  void inject(const Fault& fault, httplib::Response& res, const std::string& full_reply,
              Delivery delivery);

  // What one attempt at a request gets.
  struct Attempt {
    std::optional<Fault> fault;  // to inject into the reply, if any
    std::string bad_marker;      // a malformed fault marker: the reply is a 400 instead
  };
  // Reads the fault markers in `text` and counts one more attempt at `body` (none when a marker
  // is malformed). The markers take the attempts at the same body in turn; once they are used
  // up, a random fault may apply.
  Attempt next_attempt(const std::string& body, std::string_view text);
  bool authorized(const httplib::Request& req) const;
  // Waits for `duration`; false if stop() cut the wait short.
  bool wait_unless_stopping(std::chrono::milliseconds duration);
};

}  // namespace personagen::testing
