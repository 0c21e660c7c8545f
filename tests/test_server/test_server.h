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
  // The Batch API's faults (the class comment says more):
  int batch_delay_ms = 0;              // a batch waits this long before its first line runs
  int batch_line_delay_ms = 0;         // waited before each line of a batch
  int batch_expire_after = -1;         // with expire_batches: lines run before those batches expire
  int expire_batches = 0;              // how many batches, the first created, expire
  bool batch_fail_validation = false;  // every batch fails validation, naming line 1
  // Every chat request that carries "response_format" gets a 400 naming it, as from a server
  // without structured outputs.
  bool reject_response_format = false;
  // Every chat request that names a model other than `model` gets a 404 naming it, as OpenAI and
  // vLLM answer a model they do not serve ("model_not_found").
  bool reject_unknown_model = false;
  // Every chat request that carries "max_tokens" gets a 400 as OpenAI's reasoning models (o1, o3,
  // gpt-5) answer it: "Unsupported parameter: 'max_tokens' ... Use 'max_completion_tokens'".
  bool reject_max_tokens = false;
  // GET /v1/models answers 200 with an HTML page, as a proxy's login page would.
  bool models_html = false;
  // A 401 quotes the key as OpenAI does, its start and last 4 characters ("Incorrect API key
  // provided: sk-wrong****-456"), rather than whole.
  bool partial_key_in_401 = false;
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
// POST /v1/chat/completions answers a chat.completion. A prompt of one of personagen's tasks gets
// a reply that looks like the task's, built from the prompt (task_replies.h: a math problem that
// names the persona, an NPC object, a tool, ...); any other prompt gets one JSON object that
// every task's parser accepts (a function tool, an NPC, and the prompt echoed back with the
// request's arrival index). Markers and conversations script other replies (replies.h lists
// them): `[[answers: A|B|C]]` gives a worked solution whose \boxed answer the request's "seed"
// picks, the persona-as-user prompt and requests with several user messages get either side of
// a conversation, and `[[think]]`, `[[think-inline]]` and `[[reasoning-field]]` add thinking in
// the shapes reasoning models send. A prompt containing `[[fault:KIND*N]]` gets that fault on the
// first N attempts of its exact body (the kinds are listed in faults.h), and with fault_rate > 0
// any request may get a random one. POST /v1/embeddings answers test_embedding() of each
// text of "input" (a string or an array of strings), with the same fault markers and random
// faults. GET /v1/models lists the model; with reject_unknown_model a chat request naming
// another gets a 404 {"error":{"message":"The model `<name>` does not exist","code":
// "model_not_found"}}.
//
// Structured outputs (schema_replies.h): a chat request's "response_format" is checked. A
// malformed one (not an object; a type other than text, json_object or json_schema; json_schema
// without a "json_schema" object, a name matching ^[a-zA-Z0-9_-]{1,64}$, a "schema" object, or
// with a "strict" that is not a boolean) gets a 400 whose OpenAI error message names
// 'response_format'. With a valid json_schema, the content of the reply is an instance of the
// schema built from the prompt (schema_instance(): every property, strings with 8 hex digits of
// the prompt's hash, a property "name" as echo_tool_name(prompt), numbers within the bounds and
// picked by the hash, arrays of max(minItems, 1) items); a scripted reply (a marker, a
// conversation) still wins over it, and faults still apply to it. json_object and text get the
// usual reply. With ServerOptions::reject_response_format every request that carries
// "response_format" gets a 400 naming it. response_format_requests() counts the requests that
// carried one, valid or not.
//
// The Batch API, as OpenAI documents it, held in memory:
//   POST /v1/files                multipart/form-data with "purpose" ("batch", else 400) and
//                                 "file" (with a filename): a file object {"id":"file-<n>",
//                                 "object":"file","bytes","created_at","filename","purpose"}
//   GET /v1/files                 {"object":"list","data":[files, newest first],...}, including
//                                 the output files of batches (purpose "batch_output")
//   GET /v1/files/{id}            the file object
//   GET /v1/files/{id}/content    its bytes, as application/octet-stream
//   POST /v1/batches              {"input_file_id","endpoint","completion_window","metadata"?}:
//                                 a batch object {"id":"batch_<n>","status":"validating",...};
//                                 400 unless the endpoint is /v1/chat/completions and the window
//                                 24h, 404 for an unknown file
//   GET /v1/batches               ?limit=N (1..100, default 20) &after=<id>: {"object":"list",
//                                 "data":[newest first],"first_id","last_id","has_more"}
//   GET /v1/batches/{id}          the batch as it is now (counted by batch_polls())
//   POST /v1/batches/{id}/cancel  a validating or in-progress batch becomes "cancelling", then
//                                 "cancelled" once its worker stops; any other is returned as is
// Unknown ids get 404, and every route wants the API key as the chat route does.
//
// Each batch runs on a worker thread of its own. It checks every line of its input file (a JSON
// object; custom_id a string unique in the file; method POST; url the batch's endpoint; body an
// object): any bad line makes it "failed" with "errors" listing each (code "invalid_request" or
// "duplicate_custom_id", the 1-based "line"), and nothing runs. Otherwise it is "in_progress"
// with request_counts.total the number of lines, and each line's body goes through the same code
// path as POST /v1/chat/completions: markers, scripted replies, delay_ms and random faults
// apply, and a line shares the attempt counts of its exact body, so `[[fault:500]]` fails a line
// once and the same line succeeds when resubmitted. Faults that need a socket (drop, truncate,
// malformed, hang, huge) give the line a 500 error body. A 2xx line goes to the output file as
// {"id":"batch_req_<n>","custom_id","response":{"status_code","request_id":"req_<n>","body"},
// "error":null}, any other to the error file the same way; lines that never ran (the batch
// expired or was cancelled) go to the error file with "response":null and "error":{"code":
// "batch_expired" or "batch_cancelled","message"}. Each file's lines are shuffled by a function
// of `seed` and the batch id, so a client cannot rely on input order. The batch is then briefly
// "finalizing" and ends "completed", "expired" or "cancelled", with output_file_id and
// error_file_id naming new files (null when one would be empty), request_counts.completed the
// 2xx lines and failed the other lines that ran. A batch cancelled before validation ends
// "cancelled" with no files. Batch lines are not chat requests: chat_requests(),
// chat_request_count(), wait_for_chat_requests() and max_concurrent() count HTTP requests alone,
// and batch_line_requests() the lines; both take their request_index from one count.
//
// The batch faults of ServerOptions:
//   batch_delay_ms         a batch stays "validating" for the first half of this, then
//                          "in_progress" with nothing done for the second half (slow polling)
//   batch_line_delay_ms    waited before each line, so a test can catch a batch in progress
//   batch_expire_after     with expire_batches > 0: the first expire_batches batches created
//   expire_batches         run this many lines, then expire ("expired"; the lines left go to the
//                          error file as batch_expired); later batches run in full, so a
//                          resubmission succeeds. -1 (the default) never expires a batch.
//   batch_fail_validation  every batch fails validation with one error naming line 1
// Every wait ends at once on cancel or stop(); stop() leaves a running batch as it was.
//
// Anything else is a 404 with an OpenAI error body.
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

  // How many chat requests and batch lines carried a "response_format" member (valid, malformed
  // or refused alike).
  size_t response_format_requests() const;

  // The Batch API's bookkeeping.
  size_t file_uploads() const;                          // POST /v1/files that stored a file
  std::vector<std::string> uploaded_filenames() const;  // their filenames, in upload order
  size_t batches_created() const;                       // POST /v1/batches that created a batch
  size_t batch_cancels() const;                         // POST .../cancel naming a known batch
  size_t batch_polls() const;                           // GET /v1/batches/{id} of a known batch
  // The body of every batch line that ran through the chat code path, in the order they ran.
  std::vector<std::string> batch_line_requests() const;
  // Waits until batch `id` has `status` ("completed", "in_progress", ...); false on timeout.
  bool wait_for_batch_status(const std::string& id, const std::string& status,
                             std::chrono::milliseconds timeout) const;
  // Waits until at least n batch lines have run, across all batches; false on timeout.
  bool wait_for_batch_lines(size_t n, std::chrono::milliseconds timeout) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace personagen::testing
