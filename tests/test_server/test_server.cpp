#include "test_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>

// Fault kinds, for `[[fault:KIND*N]]` markers in a prompt and for ServerOptions::fault_kinds:
//   400 ... 599  that status with an OpenAI error body {"error":{"message":"injected <code>",...}}
//   429ra        429 with "Retry-After: 1"
//   429date      429 with Retry-After as an HTTP date between 1 and 2 seconds ahead
//   429ms        429 with "retry-after-ms: 200"
//   drop         the connection is closed after the headers, before any of the body
//   truncate     200 whose body is cut in half (the declared length is the full one)
//   malformed    200 whose body is not JSON
//   hang         no answer until stop(), or 60 s, so the client's timeout fires
//   empty        200 with content ""
//   length       200 with the normal content and finish_reason "length"
//   badjson      200 whose content is "this is not json" (text tasks accept it, JSON tasks don't)
//   huge         200 whose content is the normal one followed by 64 MiB of "x" (streamed, so the
//                server holds none of it), to test the client's reply limit
// N is a count or the word "always", 1 when "*N" is left out. Several markers apply in turn:
// `[[fault:500]] [[fault:429]]` gives 500, then 429, then the normal reply.

namespace personagen::testing {
namespace {

using Json = nlohmann::ordered_json;

enum class FaultKind {
  status,
  retry_after_seconds,
  retry_after_date,
  retry_after_ms,
  drop,
  truncate,
  malformed,
  hang,
  empty,
  length,
  badjson,
  huge
};

struct Fault {
  FaultKind kind = FaultKind::status;
  int status = 0;
};

constexpr uint64_t kAlways = std::numeric_limits<uint64_t>::max();
constexpr auto kHangLimit = std::chrono::seconds(60);
constexpr size_t kHugePadding = size_t{64} << 20;
// Stands in a huge reply's content for the padding that is streamed in its place.
constexpr std::string_view kHugeMarker = "@@huge-padding@@";
// httplib gives each keep-alive connection a worker until the client closes it or it has been
// idle this long, and stop() joins those workers: short, so a client that outlives the server
// delays stop() little; not too short, so clients rarely reuse a connection as it closes.
constexpr time_t kKeepAliveSeconds = 2;
// httplib compresses "application/json" replies whenever the client accepts an encoding, with
// brotli at its slowest setting: milliseconds of CPU per reply. With a charset parameter the
// type is not on its list, so replies go out as they are.
constexpr const char* kJsonType = "application/json; charset=utf-8";

std::optional<Fault> parse_fault(std::string_view name) {
  if (name.size() == 3 &&
      std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int status = 0;
    std::from_chars(name.data(), name.data() + name.size(), status);
    if (status < 400 || status > 599) return std::nullopt;
    return Fault{FaultKind::status, status};
  }
  static const std::pair<std::string_view, Fault> kNamed[] = {
      {"429ra", {FaultKind::retry_after_seconds, 429}},
      {"429date", {FaultKind::retry_after_date, 429}},
      {"429ms", {FaultKind::retry_after_ms, 429}},
      {"drop", {FaultKind::drop, 0}},
      {"truncate", {FaultKind::truncate, 200}},
      {"malformed", {FaultKind::malformed, 200}},
      {"hang", {FaultKind::hang, 0}},
      {"empty", {FaultKind::empty, 200}},
      {"length", {FaultKind::length, 200}},
      {"badjson", {FaultKind::badjson, 200}},
      {"huge", {FaultKind::huge, 200}},
  };
  for (const auto& [fault_name, fault] : kNamed) {
    if (fault_name == name) return fault;
  }
  return std::nullopt;
}

// One `[[fault:KIND*N]]` marker of a prompt.
struct Marker {
  Fault fault;
  uint64_t count = 1;
};

// The markers of a prompt in order, or the text of the first bad one in `bad`.
std::vector<Marker> parse_markers(std::string_view prompt, std::string& bad) {
  constexpr std::string_view kOpen = "[[fault:";
  std::vector<Marker> markers;
  for (size_t at = prompt.find(kOpen); at != std::string_view::npos;
       at = prompt.find(kOpen, at + 1)) {
    size_t end = prompt.find("]]", at);
    if (end == std::string_view::npos) break;
    std::string_view spec = prompt.substr(at + kOpen.size(), end - at - kOpen.size());
    std::string_view kind = spec.substr(0, spec.find('*'));
    Marker marker;
    std::optional<Fault> fault = parse_fault(kind);
    bool count_ok = true;
    if (kind.size() < spec.size()) {
      std::string_view count = spec.substr(kind.size() + 1);
      if (count == "always") {
        marker.count = kAlways;
      } else {
        auto [ptr, ec] = std::from_chars(count.data(), count.data() + count.size(), marker.count);
        count_ok = ec == std::errc() && ptr == count.data() + count.size() && !count.empty();
      }
    }
    if (!fault || !count_ok) {
      bad = std::string(prompt.substr(at, end + 2 - at));
      return {};
    }
    marker.fault = *fault;
    markers.push_back(marker);
  }
  return markers;
}

// FNV-1a: stable across runs and machines, unlike std::hash, so tool names are reproducible.
uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

size_t tokens_for(size_t bytes) {
  return (bytes + 3) / 4;
}

std::string error_body(std::string_view message, std::string_view type, const Json& code) {
  Json body = {{"error", {{"message", message}, {"type", type}, {"code", code}}}};
  return body.dump();
}

void reply_error(httplib::Response& res, int status, std::string_view message,
                 std::string_view type, const Json& code) {
  res.status = status;
  res.set_content(error_body(message, type, code), kJsonType);
}

// A 401 that quotes the key it was given, as a careless server might: the client must never
// print or write what comes back.
void reply_unauthorized(const httplib::Request& req, httplib::Response& res) {
  std::string key = req.get_header_value("Authorization");
  if (key.starts_with("Bearer ")) key.erase(0, 7);
  reply_error(res, 401, "invalid api key: " + key, "invalid_request_error", "invalid_api_key");
}

struct ChatRequest {
  std::string model;
  std::string prompt;  // the content of the last message with role "user"
};

std::optional<ChatRequest> parse_chat_request(const std::string& body, std::string& error) {
  Json request = Json::parse(body, nullptr, false);
  if (request.is_discarded() || !request.is_object()) {
    error = "request body is not a JSON object";
    return std::nullopt;
  }
  auto messages = request.find("messages");
  if (messages == request.end() || !messages->is_array() || messages->empty()) {
    error = "request has no messages";
    return std::nullopt;
  }
  const Json* last_user = nullptr;
  for (const Json& message : *messages) {
    if (message.is_object() && message.contains("role") && message["role"] == "user") {
      last_user = &message;
    }
  }
  if (last_user == nullptr) {
    error = "request has no message with role \"user\"";
    return std::nullopt;
  }
  ChatRequest chat;
  const Json& content = last_user->contains("content") ? (*last_user)["content"] : Json();
  if (content.is_string()) {
    chat.prompt = content.get<std::string>();
  } else if (content.is_array()) {
    for (const Json& part : content) {
      if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        chat.prompt += part["text"].get<std::string>();
      }
    }
  } else {
    error = "the last user message has no text content";
    return std::nullopt;
  }
  if (request.contains("model") && request["model"].is_string()) {
    chat.model = request["model"].get<std::string>();
  }
  return chat;
}

// The content of a normal reply: one object that the text, npc and tool parsers all accept.
// Persona-creation prompts (recognised by the paper's wording, which our templates keep) get
// persona-shaped replies instead, unique to the prompt: one persona, or a JSON array of three.
std::string echo_content(const std::string& prompt, size_t index) {
  std::string tag = echo_tool_name(prompt).substr(std::string_view("echo_tool_").size());
  if (prompt.find("Who is likely to") != std::string::npos)
    return "A reader number " + tag + " who found this text in a test server.";
  if (prompt.find("close relationship") != std::string::npos)
    return Json::array({"A colleague of echo persona " + tag + ".",
                        "A sibling of echo persona " + tag + ".",
                        "A neighbour of echo persona " + tag + "."})
        .dump();
  Json content = {{"type", "function"},
                  {"function",
                   {{"name", echo_tool_name(prompt)},
                    {"description", "Echo tool"},
                    {"parameters",
                     {{"type", "object"},
                      {"properties", {{"text", {{"type", "string"}}}}},
                      {"required", {"text"}}}}}},
                  {"name", "Echo NPC"},
                  {"role", "echo"},
                  {"backstory", "Born in a test server, it repeats whatever it is told."},
                  {"personality", "Literal and patient."},
                  {"dialogue", {"You said it, I echo it."}},
                  {"prompt", prompt},
                  {"request_index", index}};
  return content.dump();
}

std::string completion_body(size_t index, const std::string& model, const std::string& prompt,
                            const std::string& content, std::string_view finish_reason) {
  size_t prompt_tokens = tokens_for(prompt.size());
  size_t completion_tokens = tokens_for(content.size());
  Json body = {{"id", "chatcmpl-" + std::to_string(index)},
               {"object", "chat.completion"},
               {"created", static_cast<int64_t>(std::time(nullptr))},
               {"model", model},
               {"choices",
                {{{"index", 0},
                  {"message", {{"role", "assistant"}, {"content", content}}},
                  {"finish_reason", finish_reason}}}},
               {"usage",
                {{"prompt_tokens", prompt_tokens},
                 {"completion_tokens", completion_tokens},
                 {"total_tokens", prompt_tokens + completion_tokens}}}};
  return body.dump();
}

std::string http_date(std::time_t when) {
  std::tm tm{};
  gmtime_r(&when, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return text;
}

// The texts of an embeddings request: "input" as one string or an array of strings.
std::optional<std::vector<std::string>> parse_embedding_inputs(const Json& request,
                                                               std::string& error) {
  auto input = request.find("input");
  if (input == request.end() || !(input->is_string() || input->is_array())) {
    error = "request has no \"input\" string or array of strings";
    return std::nullopt;
  }
  if (input->is_string()) return std::vector<std::string>{input->get<std::string>()};
  std::vector<std::string> texts;
  for (const Json& text : *input) {
    if (!text.is_string()) {
      error = "\"input\" holds something other than strings";
      return std::nullopt;
    }
    texts.push_back(text.get<std::string>());
  }
  if (texts.empty()) {
    error = "\"input\" is empty";
    return std::nullopt;
  }
  return texts;
}

}  // namespace

std::vector<float> test_embedding(std::string_view text) {
  std::vector<double> sum(kTestEmbeddingDimension, 0.0);
  auto is_word_byte = [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
  };
  std::string word;
  for (size_t i = 0; i <= text.size(); ++i) {
    auto c = i < text.size() ? static_cast<unsigned char>(text[i]) : '\0';
    if (i < text.size() && is_word_byte(c)) {
      word += static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      continue;
    }
    if (word.empty()) continue;
    uint64_t seed = fnv1a(word);
    for (size_t d = 0; d < kTestEmbeddingDimension; ++d) {
      sum[d] += static_cast<double>(splitmix64(seed + d) >> 11) * 0x1.0p-52 - 1.0;
    }
    word.clear();
  }
  double norm = 0;
  for (double v : sum) norm += v * v;
  norm = std::sqrt(norm);
  std::vector<float> vector(kTestEmbeddingDimension, 0.0f);
  if (norm == 0) return vector;
  for (size_t d = 0; d < kTestEmbeddingDimension; ++d) {
    vector[d] = static_cast<float>(sum[d] / norm);
  }
  return vector;
}

std::vector<std::string> default_fault_kinds() {
  return {"500", "502", "503", "429ra", "drop", "truncate", "malformed", "empty", "length"};
}

std::string echo_tool_name(std::string_view prompt) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(fnv1a(prompt) & 0xffffffffU));
  return "echo_tool_" + std::string(hex);
}

class TestServer::Impl {
 public:
  explicit Impl(ServerOptions options);
  ~Impl() { stop(); }

  void stop();

  ServerOptions options_;
  std::vector<Fault> random_faults_;
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
  std::optional<Fault> random_fault(uint64_t body_hash, uint64_t attempt) const;
  bool authorized(const httplib::Request& req) const;
  // Waits for `duration`; false if stop() cut the wait short.
  bool wait_unless_stopping(std::chrono::milliseconds duration);
};

TestServer::Impl::Impl(ServerOptions options) : options_(std::move(options)) {
  if (options_.port < 0 || options_.port > 65535) {
    throw std::invalid_argument("test server: port must be 0..65535");
  }
  if (options_.threads < 1) throw std::invalid_argument("test server: threads must be >= 1");
  if (options_.delay_ms < 0) throw std::invalid_argument("test server: delay_ms must be >= 0");
  if (!(options_.fault_rate >= 0 && options_.fault_rate <= 1)) {
    throw std::invalid_argument("test server: fault_rate must be within 0..1");
  }
  if (options_.fault_kinds.empty()) options_.fault_kinds = default_fault_kinds();
  for (const std::string& kind : options_.fault_kinds) {
    std::optional<Fault> fault = parse_fault(kind);
    if (!fault) throw std::invalid_argument("test server: unknown fault kind '" + kind + "'");
    random_faults_.push_back(*fault);
  }

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
  server_.set_keep_alive_max_count(1000);
  server_.set_keep_alive_timeout(kKeepAliveSeconds);
  server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
    std::lock_guard lock(mutex_);
    authorizations_.push_back(req.get_header_value("Authorization"));
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server_.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req)) return reply_unauthorized(req, res);
    Json body = {
        {"object", "list"},
        {"data", {{{"id", options_.model}, {"object", "model"}, {"owned_by", "personagen-test"}}}}};
    res.set_content(body.dump(), kJsonType);
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
  uint64_t remaining = attempt;
  for (const Marker& marker : markers) {
    if (remaining < marker.count) {
      result.fault = marker.fault;
      return result;
    }
    remaining -= marker.count;
  }
  result.fault = random_fault(body_hash, attempt);
  return result;
}

std::optional<Fault> TestServer::Impl::random_fault(uint64_t body_hash, uint64_t attempt) const {
  if (options_.fault_rate <= 0) return std::nullopt;
  uint64_t r = splitmix64(splitmix64(splitmix64(options_.seed) ^ body_hash) ^ attempt);
  double draw = static_cast<double>(r >> 11) * 0x1.0p-53;
  if (draw >= options_.fault_rate) return std::nullopt;
  return random_faults_[splitmix64(r) % random_faults_.size()];
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
  std::string content = echo_content(chat->prompt, index);
  std::string_view finish_reason = "stop";
  if (attempt.fault && attempt.fault->kind == FaultKind::empty) content.clear();
  if (attempt.fault && attempt.fault->kind == FaultKind::badjson) content = "this is not json";
  if (attempt.fault && attempt.fault->kind == FaultKind::length) finish_reason = "length";
  if (attempt.fault && attempt.fault->kind == FaultKind::huge) content += kHugeMarker;
  std::string reply = completion_body(index, model, chat->prompt, content, finish_reason);
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
  Json request = Json::parse(req.body, nullptr, false);
  std::string error = "request body is not a JSON object";
  std::optional<std::vector<std::string>> texts;
  if (!request.is_discarded() && request.is_object()) {
    texts = parse_embedding_inputs(request, error);
  }
  if (!texts) return reply_error(res, 400, error, "invalid_request_error", 400);
  std::string all_text;
  for (const std::string& text : *texts) all_text += text;
  const Attempt attempt = next_attempt(req.body, all_text);
  if (!attempt.bad_marker.empty()) {
    return reply_error(res, 400, "test server: bad fault marker " + attempt.bad_marker,
                       "invalid_request_error", 400);
  }

  Json data = Json::array();
  for (size_t i = 0; i < texts->size(); ++i) {
    data.push_back(
        {{"object", "embedding"}, {"index", i}, {"embedding", test_embedding((*texts)[i])}});
  }
  size_t tokens = tokens_for(all_text.size());
  std::string model = request.contains("model") && request["model"].is_string()
                          ? request["model"].get<std::string>()
                          : options_.model;
  Json body = {{"object", "list"},
               {"data", std::move(data)},
               {"model", model},
               {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
  if (attempt.fault) return apply_fault(*attempt.fault, res, body.dump());
  res.set_content(body.dump(), kJsonType);
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
      // The reply up to the marker, the padding in 64 KiB pieces, then the rest of the reply.
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
