#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace personagen::testing {

// How the server behaves. Every field has a default, so `TestServer server;` is a plain,
// fault-free OpenAI-compatible endpoint on an ephemeral port.
struct ServerOptions {
  int port = 0;           // 0 = ephemeral; the server always binds 127.0.0.1
  int threads = 128;      // worker threads; one is pinned per keep-alive connection
  std::string api_key{};  // if non-empty, requests without "Authorization: Bearer <key>" get 401
  int delay_ms = 0;       // waited before every chat reply (stop() cuts it short)
  double fault_rate = 0;  // probability that a chat or embeddings request gets a random fault
  std::vector<std::string> fault_kinds{};  // kinds for random faults; empty = the default set
  uint64_t seed = 1;  // random faults are a function of (seed, body, attempt number for that body)
  std::string model = "test-model";  // listed by /v1/models
};

// The fault kinds used for random faults when ServerOptions::fault_kinds is empty: the quick,
// retryable ones ("hang" is left out because it is slow).
std::vector<std::string> default_fault_kinds();

// The tool name in the reply to this prompt: "echo_tool_" and 8 hex digits of its hash.
std::string echo_tool_name(std::string_view prompt);

// The dimension of test_embedding() vectors.
inline constexpr size_t kTestEmbeddingDimension = 64;

// The vector POST /v1/embeddings returns for `text`: the sum over its words (runs of ASCII
// letters and digits, lowercased, and non-ASCII bytes) of a pseudo-random vector seeded by each
// word, scaled to norm 1 (all zeros without words). Texts with the same words, in any order,
// get the same vector; texts that share most of their words get close ones.
std::vector<float> test_embedding(std::string_view text);

// A local OpenAI-compatible server for tests and demos.
//
// POST /v1/chat/completions answers a chat.completion whose content is one JSON object that
// every task's parser accepts (a function tool, an NPC, and the prompt echoed back with the
// request's arrival index). Markers and conversations script other replies (replies.h lists
// them): `[[answers: A|B|C]]` gives a worked solution whose \boxed answer the request's "seed"
// picks, the persona-as-user prompt and requests with several user messages get either side of
// a conversation, and `[[think]]`, `[[think-inline]]` and `[[reasoning-field]]` add thinking in
// the shapes reasoning models send. A prompt containing `[[fault:KIND*N]]` gets that fault on the
// first N attempts of its exact body (the kinds are listed in faults.h), and with fault_rate > 0
// any request may get a random one. POST /v1/embeddings answers test_embedding() of each
// text of "input" (a string or an array of strings), with the same fault markers and random
// faults. GET /v1/models lists the model. Anything else is a 404 with
// an OpenAI error body.
class TestServer {
 public:
  // Binds and starts listening before it returns. Throws std::runtime_error if the port cannot
  // be bound, and std::invalid_argument for an unknown fault kind or a bad option.
  explicit TestServer(ServerOptions options = {});
  ~TestServer();  // stop()

  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>/v1"

  // Stops listening, releases delayed and hanging handlers at once and joins every thread.
  // Idempotent. A client that still holds an idle keep-alive connection delays it by up to 2 s
  // (the server's keep-alive timeout), so destroy clients before their server.
  void stop();

  // Raw bodies of every /v1/chat/completions request received, in arrival order (including
  // ones refused for auth or a bad body), exactly as sent: "seed", the whole "messages" array
  // and every other member can be read back from them.
  std::vector<std::string> chat_requests() const;
  size_t chat_request_count() const;

  // Raw bodies of every /v1/embeddings request received, in arrival order.
  std::vector<std::string> embedding_requests() const;

  // Waits until at least n chat requests have arrived; false on timeout.
  bool wait_for_chat_requests(size_t n, std::chrono::milliseconds timeout) const;

  // The Authorization header of every request received, any path, in arrival order ("" when
  // absent), so tests can check the key is sent and nothing else is.
  std::vector<std::string> authorization_headers() const;

  // The highest number of chat requests that were being handled at the same time.
  size_t max_concurrent() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace personagen::testing
