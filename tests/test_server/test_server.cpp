#include "test_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>

#include "faults.h"
#include "replies.h"
#include "scripted_replies.h"
#include "stable_hash.h"

namespace personagen::testing {

using namespace detail;

namespace {

// Long enough for every client timeout the tests set; bounded, so a hanging handler whose
// server is never stopped still ends.
constexpr auto kHangLimit = std::chrono::seconds(60);
// Eight times the client's default reply limit (8 MiB): well over it, yet small enough that a
// test can raise the limit and take the whole reply.
constexpr size_t kHugePadding = size_t{64} << 20;
// Stands in a huge reply's content for the padding that is streamed in its place.
constexpr std::string_view kHugeMarker = "@@huge-padding@@";
// httplib gives each keep-alive connection a worker until the client closes it or it has been
// idle this long, and stop() joins those workers: short, so a client that outlives the server
// delays stop() little; not too short, so clients rarely reuse a connection as it closes.
constexpr time_t kKeepAliveSeconds = 2;
// httplib closes a keep-alive connection after 5 requests by default; a client would then
// reconnect every few requests, so let a connection serve far more than a test sends on it.
constexpr size_t kKeepAliveMaxRequests = 1000;
// httplib compresses "application/json" replies whenever the client accepts an encoding, with
// brotli at its slowest setting: milliseconds of CPU per reply. With a charset parameter the
// type is not on its list, so replies go out as they are.
constexpr const char* kJsonType = "application/json; charset=utf-8";

void reply_error(httplib::Response& res, int status, std::string_view message,
                 std::string_view type, int code) {
  res.status = status;
  res.set_content(error_body(message, type, code), kJsonType);
}

void reply_unauthorized(const httplib::Request& req, httplib::Response& res) {
  res.status = 401;
  res.set_content(unauthorized_body(req.get_header_value("Authorization")), kJsonType);
}

// Checks the options, so the server refuses them before it binds anything.
ServerOptions validated(ServerOptions options) {
  if (options.port < 0 || options.port > 65535) {
    throw std::invalid_argument("test server: port must be 0..65535");
  }
  if (options.threads < 1) throw std::invalid_argument("test server: threads must be >= 1");
  if (options.delay_ms < 0) throw std::invalid_argument("test server: delay_ms must be >= 0");
  if (!(options.fault_rate >= 0 && options.fault_rate <= 1)) {
    throw std::invalid_argument("test server: fault_rate must be within 0..1");
  }
  return options;
}

}  // namespace

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
  size_t in_flight_ = 0;
  size_t max_in_flight_ = 0;

  std::mutex stop_mutex_;
  bool stopped_ = false;

 private:
  void on_chat(const httplib::Request& req, httplib::Response& res);
  void on_embeddings(const httplib::Request& req, httplib::Response& res);
  void apply_fault(const Fault& fault, httplib::Response& res, const std::string& full_reply);

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

TestServer::Impl::Impl(ServerOptions options)
    : options_(validated(std::move(options))),
      random_faults_(options_.fault_rate, options_.seed, options_.fault_kinds) {
  // httplib listens with a backlog of 5: a burst of new connections overflows it, and every
  // SYN dropped costs its client a 1 s retransmit. So the socket is caught here, as it is made,
  // and its backlog raised once it listens (below).
  server_.set_socket_options([this](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_socket_ = sock;
  });
  // httplib writes a reply's headers and body separately; with Nagle's algorithm on, the body
  // waits for the client's delayed ACK (~40 ms) on every keep-alive request.
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_max_count(kKeepAliveMaxRequests);
  server_.set_keep_alive_timeout(kKeepAliveSeconds);
  server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
    std::lock_guard lock(mutex_);
    authorizations_.push_back(req.get_header_value("Authorization"));
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server_.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req)) return reply_unauthorized(req, res);
    res.set_content(models_body(options_.model), kJsonType);
  });
  server_.Post("/v1/chat/completions",
               [this](const httplib::Request& req, httplib::Response& res) { on_chat(req, res); });
  server_.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
    on_embeddings(req, res);
  });
  // Called for every status >= 400; only fills in a body where none was set (e.g. no route).
  server_.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty() || res.content_provider_) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        std::string message = "test server: no route for " + req.method + " " + req.path;
        if (res.status != 404) message = "test server: status " + std::to_string(res.status);
        res.set_content(error_body(message, "invalid_request_error", res.status), kJsonType);
        return httplib::Server::HandlerResponse::Handled;
      }));
  server_.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
        std::string message = "test server: internal error";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          message += std::string(": ") + e.what();
        } catch (...) {
        }
        reply_error(res, 500, message, "server_error", 500);
      });
  server_.new_task_queue = [this] {
    // httplib calls this once it is running, so from here on stop() takes effect.
    {
      std::lock_guard lock(mutex_);
      ready_ = true;
    }
    changed_.notify_all();
    return new httplib::ThreadPool(static_cast<size_t>(options_.threads));
  };

  if (options_.port == 0) {
    port_ = server_.bind_to_any_port("127.0.0.1");
  } else {
    port_ = server_.bind_to_port("127.0.0.1", options_.port) ? options_.port : -1;
  }
  if (port_ <= 0) {
    throw std::runtime_error("test server: cannot bind 127.0.0.1:" + std::to_string(options_.port));
  }
  if (listen_socket_ < 0 || ::listen(listen_socket_, SOMAXCONN) != 0) {
    throw std::runtime_error("test server: cannot raise the listen backlog");
  }
  listener_ = std::thread([this] {
    server_.listen_after_bind();
    {
      std::lock_guard lock(mutex_);
      ready_ = true;  // also when listening failed early, so the constructor never waits forever
    }
    changed_.notify_all();
  });
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return ready_; });
}

void TestServer::Impl::stop() {
  std::lock_guard stop_lock(stop_mutex_);
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  server_.stop();
  if (listener_.joinable()) listener_.join();
}

bool TestServer::Impl::authorized(const httplib::Request& req) const {
  return options_.api_key.empty() ||
         req.get_header_value("Authorization") == "Bearer " + options_.api_key;
}

bool TestServer::Impl::wait_unless_stopping(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !changed_.wait_for(lock, duration, [this] { return stopping_; });
}

TestServer::Impl::Attempt TestServer::Impl::next_attempt(const std::string& body,
                                                         std::string_view text) {
  Attempt result;
  std::vector<Marker> markers = parse_markers(text, result.bad_marker);
  if (!result.bad_marker.empty()) return result;
  uint64_t body_hash = fnv1a(body);
  uint64_t attempt = 0;
  {
    std::lock_guard lock(mutex_);
    attempt = attempts_[body_hash]++;
  }
  result.fault = marked_fault(markers, attempt);
  if (!result.fault) result.fault = random_faults_.pick(body_hash, attempt);
  return result;
}

void TestServer::Impl::on_chat(const httplib::Request& req, httplib::Response& res) {
  size_t index = 0;
  {
    std::lock_guard lock(mutex_);
    index = chat_bodies_.size();
    chat_bodies_.push_back(req.body);
    max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
  }
  changed_.notify_all();
  struct InFlight {
    Impl& impl;
    ~InFlight() {
      std::lock_guard lock(impl.mutex_);
      --impl.in_flight_;
    }
  } in_flight{*this};

  if (!authorized(req)) return reply_unauthorized(req, res);
  std::string error;
  std::optional<ChatRequest> chat = parse_chat_request(req.body, error);
  if (!chat) return reply_error(res, 400, error, "invalid_request_error", 400);
  const Attempt attempt = next_attempt(req.body, chat->prompt);
  if (!attempt.bad_marker.empty()) {
    return reply_error(res, 400, "test server: bad fault marker " + attempt.bad_marker,
                       "invalid_request_error", 400);
  }
  if (options_.delay_ms > 0 &&
      !wait_unless_stopping(std::chrono::milliseconds(options_.delay_ms))) {
    return reply_error(res, 503, "test server is stopping", "server_error", 503);
  }

  std::string model = chat->model.empty() ? options_.model : chat->model;
  // Faults change the content alone: thinking in a field of its own stays, as when a reasoning
  // model spends its whole budget thinking.
  ChatReply scripted = scripted_reply(*chat, index);
  std::string_view finish_reason = "stop";
  if (attempt.fault && attempt.fault->kind == FaultKind::empty) scripted.content.clear();
  if (attempt.fault && attempt.fault->kind == FaultKind::badjson) {
    scripted.content = "this is not json";
  }
  if (attempt.fault && attempt.fault->kind == FaultKind::length) finish_reason = "length";
  if (attempt.fault && attempt.fault->kind == FaultKind::huge) scripted.content += kHugeMarker;
  std::string reply = completion_body(index, model, chat->prompt, scripted, finish_reason);
  if (attempt.fault) return apply_fault(*attempt.fault, res, reply);
  res.set_content(reply, kJsonType);
}

// Fault markers in any of the texts apply to the whole request, as they do to a chat prompt.
void TestServer::Impl::on_embeddings(const httplib::Request& req, httplib::Response& res) {
  {
    std::lock_guard lock(mutex_);
    embedding_bodies_.push_back(req.body);
  }
  changed_.notify_all();
  if (!authorized(req)) return reply_unauthorized(req, res);
  std::string error;
  std::optional<EmbeddingsRequest> embeddings = parse_embeddings_request(req.body, error);
  if (!embeddings) return reply_error(res, 400, error, "invalid_request_error", 400);
  std::string all_text;
  for (const std::string& text : embeddings->texts) all_text += text;
  const Attempt attempt = next_attempt(req.body, all_text);
  if (!attempt.bad_marker.empty()) {
    return reply_error(res, 400, "test server: bad fault marker " + attempt.bad_marker,
                       "invalid_request_error", 400);
  }

  std::string reply =
      embeddings_body(embeddings->texts, embeddings->model.value_or(options_.model));
  if (attempt.fault) return apply_fault(*attempt.fault, res, reply);
  res.set_content(reply, kJsonType);
}

void TestServer::Impl::apply_fault(const Fault& fault, httplib::Response& res,
                                   const std::string& full_reply) {
  std::string injected = "injected " + std::to_string(fault.status);
  switch (fault.kind) {
    case FaultKind::status:
      return reply_error(res, fault.status, injected, "test", fault.status);
    case FaultKind::retry_after_seconds:
      reply_error(res, fault.status, injected, "test", fault.status);
      return res.set_header("Retry-After", "1");
    case FaultKind::retry_after_date:
      // Dates have whole seconds and "now" is up to one second past time(), so this is 1-2 s on.
      reply_error(res, fault.status, injected, "test", fault.status);
      return res.set_header("Retry-After", http_date(std::time(nullptr) + 2));
    case FaultKind::retry_after_ms:
      reply_error(res, fault.status, injected, "test", fault.status);
      return res.set_header("retry-after-ms", "200");
    case FaultKind::drop:
      // httplib hands no socket to handlers, so the closest to a dropped connection is the
      // status line and headers, then a close with none of the declared body.
      return res.set_content_provider(full_reply.size(), kJsonType,
                                      [](size_t, size_t, httplib::DataSink&) { return false; });
    case FaultKind::truncate:
      return res.set_content_provider(full_reply.size(), kJsonType,
                                      [half = full_reply.substr(0, full_reply.size() / 2)](
                                          size_t offset, size_t, httplib::DataSink& sink) {
                                        if (offset == 0) sink.write(half.data(), half.size());
                                        return false;
                                      });
    case FaultKind::malformed:
      return res.set_content(full_reply.substr(0, full_reply.size() / 2) + "\"<<not json",
                             kJsonType);
    case FaultKind::hang:
      wait_unless_stopping(kHangLimit);
      return reply_error(res, 504, "injected hang", "test", 504);
    case FaultKind::empty:
    case FaultKind::length:
    case FaultKind::badjson:
      return res.set_content(full_reply, kJsonType);
    case FaultKind::huge: {
      // The reply up to the marker, the padding in 64 KiB pieces (so the server holds no more of
      // it at once), then the rest of the reply.
      size_t at = std::min(full_reply.find(kHugeMarker), full_reply.size());
      std::string head = full_reply.substr(0, at);
      std::string tail = full_reply.substr(std::min(at + kHugeMarker.size(), full_reply.size()));
      size_t length = head.size() + kHugePadding + tail.size();
      return res.set_content_provider(
          length, kJsonType,
          [head = std::move(head), tail = std::move(tail), piece = std::string(64 << 10, 'x')](
              size_t offset, size_t, httplib::DataSink& sink) {
            if (offset < head.size()) return sink.write(head.data() + offset, head.size() - offset);
            offset -= head.size();
            if (offset < kHugePadding)
              return sink.write(piece.data(), std::min(piece.size(), kHugePadding - offset));
            offset -= kHugePadding;
            return sink.write(tail.data() + offset, tail.size() - offset);
          });
    }
  }
}

TestServer::TestServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

TestServer::~TestServer() = default;

int TestServer::port() const {
  return impl_->port_;
}

std::string TestServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port_) + "/v1";
}

void TestServer::stop() {
  impl_->stop();
}

std::vector<std::string> TestServer::chat_requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->chat_bodies_;
}

size_t TestServer::chat_request_count() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->chat_bodies_.size();
}

bool TestServer::wait_for_chat_requests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex_);
  return impl_->changed_.wait_for(lock, timeout,
                                  [this, n] { return impl_->chat_bodies_.size() >= n; });
}

std::vector<std::string> TestServer::authorization_headers() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->authorizations_;
}

size_t TestServer::max_concurrent() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->max_in_flight_;
}

std::vector<std::string> TestServer::embedding_requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->embedding_bodies_;
}

}  // namespace personagen::testing
