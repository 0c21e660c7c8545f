#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/curl_common.h"
#include "net/curl_event_loop.h"
#include "net/endpoint_balancer.h"
#include "net/url.h"
#include "personagen/error.h"
#include "personagen/http_transport.h"
#include "util/text_util.h"

namespace personagen {
namespace {

using Clock = std::chrono::steady_clock;
using curl::error_text;
using curl::map_curl_error;

// Whether a request's outcome says its endpoint is unwell: it could not be reached or did not
// answer, or it answered that it is failing or overloaded. Other 4xx replies, and a reply over
// the size limit, come from a healthy server.
bool endpoint_failed(const HttpResponse& response) {
  if (response.error == TransportError::too_large) return false;  // it answered, at length
  return response.error != TransportError::none || response.status >= 500 || response.status == 429;
}

struct HeadersDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// One easy handle and the state of the request it carries. Handles are reused, so their
// options are set once; per request only the body changes, and the URL when a balancer picks
// another endpoint.
struct Transfer {
  CURL* easy = nullptr;
  MultiHandle* multi = nullptr;  // the multi handle it is in, or null
  size_t endpoint = 0;           // the index of the URL set on the handle
  uint64_t tag = 0;
  std::string body;  // must outlive the transfer: CURLOPT_POSTFIELDS does not copy it
  HttpResponse response;
  uint64_t max_reply_bytes = 0;
  bool too_large = false;            // on_body stopped the transfer at max_reply_bytes
  char error[CURL_ERROR_SIZE] = {};  // libcurl's detail on a failure; the size it requires

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
  }
};

// Stops a reply at max_reply_bytes: a short count makes libcurl abort the transfer with
// CURLE_WRITE_ERROR, which take_response() reports as too_large. Nothing past the limit is kept.
size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  if (transfer->response.body.size() + bytes > transfer->max_reply_bytes) {
    transfer->too_large = true;
    return 0;
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  curl::read_retry_header(std::string_view(data, size * count),
                          static_cast<Transfer*>(user)->response);
  return size * count;
}

// The Transport over libcurl: each request goes out on a reused easy handle, driven by a
// CurlEventLoop. Not thread-safe: the request pool's loop owns it.
class CurlTransport final : public Transport {
 public:
  // `options.urls` is not empty, and libcurl is initialised.
  explicit CurlTransport(const TransportOptions& options)
      : options_(options),
        proxy_in_environment_(curl::proxy_in_environment()),
        loop_(options.max_connections) {
    // With one endpoint there is nothing to choose: no balancer, no cost per request.
    if (options_.urls.size() > 1) {
      balancer_ = std::make_unique<EndpointBalancer>(options_.urls.size());
    }
    const char* fixed[] = {"Content-Type: application/json", "Accept: application/json", "Expect:"};
    for (const char* header : fixed) append_header(header);
    if (!options_.api_key.empty()) append_header("Authorization: Bearer " + options_.api_key);
  }

  // Abandons requests still in flight: takes their easy handles out of the multi handles, which
  // the loop then cleans up (see loop_).
  ~CurlTransport() override {
    for (auto& transfer : transfers_) {
      if (transfer->multi) loop_.remove(*transfer->multi, transfer->easy);
    }
  }

  void start(HttpRequest request) override {
    Transfer* transfer = acquire();
    transfer->tag = request.tag;
    transfer->body = std::move(request.body);
    transfer->response = HttpResponse{};
    transfer->max_reply_bytes = options_.max_reply_bytes;
    transfer->too_large = false;
    transfer->error[0] = '\0';
    if (balancer_) {
      size_t endpoint = balancer_->pick(Clock::now());
      if (endpoint != transfer->endpoint) {
        transfer->endpoint = endpoint;
        curl_easy_setopt(transfer->easy, CURLOPT_URL, options_.urls[endpoint].c_str());
      }
    }
    curl_easy_setopt(transfer->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(transfer->body.size()));
    curl_easy_setopt(transfer->easy, CURLOPT_POSTFIELDS, transfer->body.data());
    try {
      transfer->multi = &loop_.add(transfer->easy);
    } catch (...) {
      free_.push_back(transfer);
      throw;
    }
    ++in_flight_;
    loop_.check_watch_error();
  }

  void wait(int timeout_ms, std::vector<HttpResponse>& finished) override {
    const size_t before = finished.size();
    const Clock::time_point deadline =
        Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    bool polled = false;
    for (;;) {
      Clock::time_point now = Clock::now();
      loop_.run_due_timers(now);
      collect(finished);
      if (finished.size() != before) return;
      now = Clock::now();
      if (polled && now >= deadline) return;
      // With no transfers this still sleeps until the deadline, so callers waiting for a
      // retry do not spin.
      Clock::time_point until = std::min(deadline, loop_.next_timeout());
      auto ms = until > now ? std::chrono::ceil<std::chrono::milliseconds>(until - now).count() : 0;
      polled = true;
      // A signal ends the wait, so that the caller sees it.
      if (!loop_.poll(static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX)))) return;
    }
  }

  size_t in_flight() const override { return in_flight_; }

 private:
  void append_header(const std::string& header) {
    curl_slist* list = curl_slist_append(headers_.get(), header.c_str());
    if (!list) throw Error("libcurl: out of memory building request headers");
    if (!headers_) headers_.reset(list);  // later appends return the same head
  }

  Transfer* acquire() {
    if (!free_.empty()) {
      Transfer* transfer = free_.back();
      free_.pop_back();
      return transfer;
    }
    auto transfer = std::make_unique<Transfer>();
    transfer->easy = curl_easy_init();
    if (!transfer->easy) throw Error("libcurl: curl_easy_init failed");
    configure(*transfer);
    loop_.attach(transfer->easy);
    transfers_.push_back(std::move(transfer));
    return transfers_.back().get();
  }

  // Sets every option that stays the same for the handle's lifetime.
  void configure(Transfer& transfer) {
    CURL* easy = transfer.easy;
    curl::set_common_options(easy, options_.timeout_seconds, proxy_in_environment_);
    curl_easy_setopt(easy, CURLOPT_URL, options_.urls[transfer.endpoint].c_str());
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &transfer);
  }

  // Turns every transfer that finished into a response. All are taken from libcurl before any
  // is removed from its multi handle (see CurlEventLoop::take_finished).
  void collect(std::vector<HttpResponse>& finished) {
    done_.clear();
    loop_.take_finished(done_);
    for (const FinishedTransfer& done : done_) {
      char* user = nullptr;
      curl_easy_getinfo(done.easy, CURLINFO_PRIVATE, &user);
      auto* transfer = reinterpret_cast<Transfer*>(user);
      loop_.remove(*transfer->multi, done.easy);
      transfer->multi = nullptr;
      --in_flight_;
      finished.push_back(take_response(*transfer, done.result));
      // An error reply may quote the key; nothing downstream (failures.jsonl, logs) may see it.
      HttpResponse& response = finished.back();
      if (response.status >= 300 && !options_.api_key.empty())
        response.body = redacted(response.body, options_.api_key);
      if (balancer_) learn(transfer->endpoint, finished.back());
      free_.push_back(transfer);
    }
    loop_.check_watch_error();
  }

  // Tells the balancer how a request to `endpoint` ended, and logs a change of its health.
  void learn(size_t endpoint, const HttpResponse& response) {
    bool failed = endpoint_failed(response);
    auto change = balancer_->finish(endpoint, !failed, Clock::now());
    if (change == EndpointBalancer::Change::none) return;
    std::string url = display_url(options_.urls[endpoint]);
    if (change == EndpointBalancer::Change::recovered) {
      spdlog::info("endpoint {} is answering again; back in rotation", url);
      return;
    }
    std::string last = response.error != TransportError::none
                           ? response.error_text
                           : "HTTP " + std::to_string(response.status);
    double seconds = std::chrono::duration<double>(balancer_->cooldown(endpoint)).count();
    if (change == EndpointBalancer::Change::ejected) {
      spdlog::warn("endpoint {} left out for {:g}s after {} failures in a row (last: {})", url,
                   seconds, balancer_->consecutive_failures(endpoint), last);
    } else {
      spdlog::debug("endpoint {} still failing ({}); next try in {:g}s", url, last, seconds);
    }
  }

  static HttpResponse take_response(Transfer& transfer, CURLcode result) {
    HttpResponse response = std::move(transfer.response);
    transfer.response = HttpResponse{};
    response.tag = transfer.tag;
    response.error = map_curl_error(result);
    if (response.error == TransportError::none) {
      long status = 0;
      curl_easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &status);
      response.status = status;
      return response;
    }
    response.status = 0;
    response.body = std::string();  // frees a body cut off at the limit
    if (transfer.too_large && result == CURLE_WRITE_ERROR) {
      response.error = TransportError::too_large;
      response.error_text =
          "the reply is over " + std::to_string(transfer.max_reply_bytes) + " bytes";
      return response;
    }
    response.error_text = error_text(result, transfer.error);
    return response;
  }

  TransportOptions options_;
  std::unique_ptr<EndpointBalancer> balancer_;  // null with one endpoint
  bool proxy_in_environment_;
  std::unique_ptr<curl_slist, HeadersDeleter> headers_;  // shared; holds the key, never logged
  std::vector<std::unique_ptr<Transfer>> transfers_;     // every handle ever made
  std::vector<Transfer*> free_;                          // handles in no multi handle
  std::vector<FinishedTransfer> done_;
  // Declared after the easy handles and the headers, so that it is destroyed before them: the
  // multi handles close their connections first, then the easy handles go, then the headers
  // they pointed to (the order the transport has always kept).
  CurlEventLoop loop_;
  size_t in_flight_ = 0;
};

}  // namespace

std::unique_ptr<Transport> make_curl_transport(const TransportOptions& options) {
  if (options.urls.empty()) throw Error("transport: no endpoint URL given");
  curl::init_curl_once();
  return std::make_unique<CurlTransport>(options);
}

}  // namespace personagen
