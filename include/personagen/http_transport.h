#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace personagen {

// How a request ended below HTTP. `none` means an HTTP status arrived. `too_large`: the reply
// body grew past TransportOptions::max_reply_bytes and the transfer was stopped.
// `not_run`: the request never ran at all; a batch's results say it expired or was cancelled, or
// hold no result for it.
enum class TransportError {
  none,
  timeout,
  connect,
  send_recv,
  bad_response,
  too_large,
  not_run,
  other
};

// One POST to one of the transport's URLs. `tag` comes back in the response.
struct HttpRequest {
  uint64_t tag = 0;
  std::string body;
  // The request's custom_id. The network ignores it; a transport that answers from a batch's
  // result files finds the result by it.
  std::string key;
};

struct HttpResponse {
  uint64_t tag = 0;
  long status = 0;  // 0 when error != none
  std::string body;
  std::string retry_after;     // the Retry-After header, if any
  std::string retry_after_ms;  // the retry-after-ms header, if any
  TransportError error = TransportError::none;
  std::string error_text;  // one line, when error != none
};

struct TransportOptions {
  // Full URLs of equivalent endpoints, e.g. http://127.0.0.1:8000/v1/chat/completions; at least
  // one. With several, each request goes to the one with the fewest requests outstanding, and
  // one whose requests keep failing (transport errors, 5xx, 429) is left out for a cool-down.
  std::vector<std::string> urls;
  std::string api_key;  // sent as "Authorization: Bearer"; never logged. May be empty.
  double timeout_seconds = 120;
  size_t max_connections = 64;  // connections kept alive in all; keep >= concurrency
  // A reply body longer than this stops its transfer (TransportError::too_large), so memory
  // stays bounded by the requests in flight times this, whatever a server sends.
  uint64_t max_reply_bytes = 8 << 20;
};

// The seam between the request pool and the network. The real implementation drives libcurl's
// multi interface from the calling thread; tests use a fake that records what it was sent.
class Transport {
 public:
  virtual ~Transport() = default;
  // Starts a request; it finishes in a later wait().
  virtual void start(HttpRequest request) = 0;
  // Waits up to timeout_ms for activity and appends every finished request to `finished`.
  // Returns early when something finished.
  virtual void wait(int timeout_ms, std::vector<HttpResponse>& finished) = 0;
  // Requests started and not yet returned by wait().
  virtual size_t in_flight() const = 0;
};

// The libcurl implementation: keep-alive connections, reused easy handles, one epoll loop over
// up to 16 multi handles. Several, because libcurl 7.88 walks a multi handle's whole connection
// cache on every reuse and every removal: with thousands of connections in one handle, that is
// hundreds of microseconds per request (see ARCHITECTURE.md). Logs a warning naming an endpoint's
// URL when it is taken out of rotation, and a note when it is back. Throws Error if libcurl cannot
// be initialised or `urls` is empty.
std::unique_ptr<Transport> make_curl_transport(const TransportOptions& options);

}  // namespace personagen
