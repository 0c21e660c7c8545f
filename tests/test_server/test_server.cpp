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

#include "batches.h"
#include "faults.h"
#include "replies.h"
#include "schema_replies.h"
#include "scripted_replies.h"
#include "stable_hash.h"
#include "test_server_impl.h"

namespace personagen::testing {

using namespace detail;

namespace {

// Long enough for every client timeout the tests set; bounded, so a hanging handler whose
// server is never stopped still ends.
constexpr auto kHangLimit = std::chrono::seconds(60);
// httplib gives each keep-alive connection a worker until the client closes it or it has been
// idle this long, and stop() joins those workers: short, so a client that outlives the server
// delays stop() little; not too short, so clients rarely reuse a connection as it closes.
constexpr time_t kKeepAliveSeconds = 2;
// httplib closes a keep-alive connection after 5 requests by default; a client would then
// reconnect every few requests, so let a connection serve far more than a test sends on it.
constexpr size_t kKeepAliveMaxRequests = 1000;

void reply_unauthorized(const httplib::Request& req, httplib::Response& res, bool partial_key) {
  res.status = 401;
  std::string key = req.get_header_value("Authorization");
  if (partial_key) {
    if (key.starts_with("Bearer ")) key.erase(0, 7);
    key = key.size() > 12 ? key.substr(0, 8) + "****" + key.substr(key.size() - 4) : "****";
    res.set_content(error_body_with_code("Incorrect API key provided: " + key,
                                         "invalid_request_error", "invalid_api_key"),
                    kJsonType);
    return;
  }
  res.set_content(unauthorized_body(key), kJsonType);
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
  if (options.batch_delay_ms < 0 || options.batch_line_delay_ms < 0) {
    throw std::invalid_argument("test server: batch delays must be >= 0");
  }
  if (options.batch_expire_after < -1 || options.expire_batches < 0) {
    throw std::invalid_argument(
        "test server: batch_expire_after must be >= -1 and expire_batches >= 0");
  }
  return options;
}

}  // namespace

TestServer::Impl::Impl(ServerOptions options)
    : options_(validated(std::move(options))),
      random_faults_(options_.fault_rate, options_.seed, options_.fault_kinds),
      batches_(BatchOptions{.delay_ms = options_.batch_delay_ms,
                            .line_delay_ms = options_.batch_line_delay_ms,
                            .expire_after = options_.batch_expire_after,
                            .expire_batches = options_.expire_batches,
                            .fail_validation = options_.batch_fail_validation,
                            .seed = options_.seed},
               [this](const std::string& body) { return batch_line(body); }) {
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
    if (!authorized(req)) return reply_unauthorized(req, res, options_.partial_key_in_401);
    if (options_.models_html) {
      res.set_content("<html><body>Please log in</body></html>", "text/html");
      return;
    }
    res.set_content(models_body(options_.model), kJsonType);
  });
  server_.Post("/v1/chat/completions",
               [this](const httplib::Request& req, httplib::Response& res) { on_chat(req, res); });
  server_.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
    on_embeddings(req, res);
  });
  batches_.route(server_, [this](httplib::Server::Handler handler) -> httplib::Server::Handler {
    return
        [this, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
          if (!authorized(req)) return reply_unauthorized(req, res, options_.partial_key_in_401);
          handler(req, res);
        };
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
  batches_.stop();
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
    index = next_index_++;
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

  if (!authorized(req)) return reply_unauthorized(req, res, options_.partial_key_in_401);
  ChatOutcome outcome = chat_outcome(req.body, index);
  if (outcome.fault) return inject(*outcome.fault, res, outcome.body, Delivery::socket);
  res.status = outcome.status;
  res.set_content(outcome.body, kJsonType);
}

TestServer::Impl::ChatOutcome TestServer::Impl::chat_outcome(const std::string& body,
                                                             size_t index) {
  auto refused = [](int status, std::string_view message, std::string_view type) {
    return ChatOutcome{status, error_body(message, type, status), std::nullopt};
  };
  std::string error;
  std::optional<ChatRequest> chat = parse_chat_request(body, error);
  if (!chat) return refused(400, error, "invalid_request_error");
  std::optional<ResponseFormat> format = read_response_format(body, error);
  if (!format || format->present) {
    std::lock_guard lock(mutex_);
    ++response_format_requests_;
    if (options_.reject_response_format) error = "'response_format' is not supported here";
  }
  if (!format || (format->present && options_.reject_response_format))
    return refused(400, error, "invalid_request_error");
  if (options_.reject_max_tokens && body.find("\"max_tokens\"") != std::string::npos) {
    return {400,
            error_body_with_code("Unsupported parameter: 'max_tokens' is not supported with this "
                                 "model. Use 'max_completion_tokens' instead.",
                                 "invalid_request_error", "unsupported_parameter"),
            std::nullopt};
  }
  if (options_.reject_unknown_model && chat->model != options_.model) {
    return {404,
            error_body_with_code("The model `" + chat->model + "` does not exist",
                                 "invalid_request_error", "model_not_found"),
            std::nullopt};
  }
  const Attempt attempt = next_attempt(body, chat->prompt);
  if (!attempt.bad_marker.empty()) {
    return refused(400, "test server: bad fault marker " + attempt.bad_marker,
                   "invalid_request_error");
  }
  if (options_.delay_ms > 0 &&
      !wait_unless_stopping(std::chrono::milliseconds(options_.delay_ms))) {
    return refused(503, "test server is stopping", "server_error");
  }

  std::string model = chat->model.empty() ? options_.model : chat->model;
  // Faults change the content alone: thinking in a field of its own stays, as when a reasoning
  // model spends its whole budget thinking.
  ChatReply scripted = scripted_reply(*chat, index);
  shape_reply(*format, *chat, index, scripted);
  std::string_view finish_reason = "stop";
  if (attempt.fault && attempt.fault->kind == FaultKind::empty) scripted.content.clear();
  if (attempt.fault && attempt.fault->kind == FaultKind::badjson) {
    scripted.content = "this is not json";
  }
  if (attempt.fault && attempt.fault->kind == FaultKind::length) finish_reason = "length";
  if (attempt.fault && attempt.fault->kind == FaultKind::huge) scripted.content += kHugeMarker;
  return {200, completion_body(index, model, chat->prompt, scripted, finish_reason), attempt.fault};
}

LineReply TestServer::Impl::batch_line(const std::string& body) {
  size_t index = 0;
  {
    std::lock_guard lock(mutex_);
    index = next_index_++;
  }
  ChatOutcome outcome = chat_outcome(body, index);
  if (!outcome.fault) return {outcome.status, std::move(outcome.body)};
  httplib::Response res;
  res.status = outcome.status;
  inject(*outcome.fault, res, outcome.body, Delivery::batch);
  return {res.status, res.body};
}

void TestServer::Impl::inject(const Fault& fault, httplib::Response& res,
                              const std::string& full_reply, Delivery delivery) {
  apply_fault(fault, res, full_reply, delivery, [this] { wait_unless_stopping(kHangLimit); });
}

// Fault markers in any of the texts apply to the whole request, as they do to a chat prompt.
void TestServer::Impl::on_embeddings(const httplib::Request& req, httplib::Response& res) {
  {
    std::lock_guard lock(mutex_);
    embedding_bodies_.push_back(req.body);
  }
  changed_.notify_all();
  if (!authorized(req)) return reply_unauthorized(req, res, options_.partial_key_in_401);
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
  if (attempt.fault) return inject(*attempt.fault, res, reply, Delivery::socket);
  res.set_content(reply, kJsonType);
}

}  // namespace personagen::testing
