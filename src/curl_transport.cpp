#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "personagen/error.h"
#include "personagen/http_transport.h"

#ifndef PERSONAGEN_VERSION
#define PERSONAGEN_VERSION "dev"
#endif

namespace personagen {
namespace {

// The one place that maps libcurl's result codes onto the transport's closed set.
TransportError map_curl_error(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return TransportError::none;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportError::timeout;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return TransportError::connect;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return TransportError::send_recv;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
      return TransportError::bad_response;
    default:
      return TransportError::other;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// curl_global_init is not thread-safe and must run once per process; its failure is sticky.
void init_curl_once() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    throw Error(std::string("libcurl: curl_global_init failed: ") + curl_easy_strerror(result));
  }
}

// One easy handle and the state of the request it carries. Handles are reused, so their
// options are set once; only the body changes per request.
struct Transfer {
  CURL* easy = nullptr;
  uint64_t tag = 0;
  std::string body;  // must outlive the transfer: CURLOPT_POSTFIELDS does not copy it
  HttpResponse response;
  bool in_multi = false;
  char error[CURL_ERROR_SIZE] = {};

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
  }
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  transfer->response.body.append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  // A new status line starts a new header block (e.g. after a proxy's CONNECT reply).
  if (line.substr(0, 5) == "HTTP/") {
    transfer->response.retry_after.clear();
    transfer->response.retry_after_ms.clear();
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * count;
  std::string_view name = trim(line.substr(0, colon));
  std::string_view value = trim(line.substr(colon + 1));
  if (iequals(name, "retry-after")) {
    transfer->response.retry_after = value;
  } else if (iequals(name, "retry-after-ms")) {
    transfer->response.retry_after_ms = value;
  }
  return size * count;
}

struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct HeadersDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Drives one CURLM from the calling thread. Not thread-safe: the request pool's loop owns it.
class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(const TransportOptions& options) : options_(options) {
    init_curl_once();
    multi_.reset(curl_multi_init());
    if (!multi_) throw Error("libcurl: curl_multi_init failed");
    // Keep every idle keep-alive connection the pool may need; the pool bounds concurrency.
    curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS,
                      static_cast<long>(options_.max_connections));
    curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS, 0L);

    const char* fixed[] = {"Content-Type: application/json", "Accept: application/json", "Expect:"};
    for (const char* header : fixed) append_header(header);
    if (!options_.api_key.empty()) append_header("Authorization: Bearer " + options_.api_key);
  }

  // Abandons requests still in flight. Members then go in reverse order: easy handles, the
  // multi handle with its connection cache, and last the headers the handles pointed to.
  ~CurlTransport() override {
    for (auto& transfer : transfers_) {
      if (transfer->in_multi) curl_multi_remove_handle(multi_.get(), transfer->easy);
    }
  }

  void start(HttpRequest request) override {
    Transfer* transfer = acquire();
    transfer->tag = request.tag;
    transfer->body = std::move(request.body);
    transfer->response = HttpResponse{};
    transfer->error[0] = '\0';
    curl_easy_setopt(transfer->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(transfer->body.size()));
    curl_easy_setopt(transfer->easy, CURLOPT_POSTFIELDS, transfer->body.data());
    CURLMcode code = curl_multi_add_handle(multi_.get(), transfer->easy);
    if (code != CURLM_OK) {
      free_.push_back(transfer);
      throw Error(std::string("libcurl: curl_multi_add_handle failed: ") +
                  curl_multi_strerror(code));
    }
    transfer->in_multi = true;
    ++in_flight_;
  }

  void wait(int timeout_ms, std::vector<HttpResponse>& finished) override {
    size_t before = finished.size();
    perform();
    drain(finished);
    if (finished.size() != before) return;
    // With no transfers, curl_multi_poll still sleeps for the timeout, so callers waiting for a
    // retry do not spin.
    CURLMcode code = curl_multi_poll(multi_.get(), nullptr, 0, std::max(timeout_ms, 0), nullptr);
    if (code != CURLM_OK) {
      throw Error(std::string("libcurl: curl_multi_poll failed: ") + curl_multi_strerror(code));
    }
    perform();
    drain(finished);
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
    transfers_.push_back(std::move(transfer));
    return transfers_.back().get();
  }

  // Sets every option that stays the same for the handle's lifetime.
  void configure(Transfer& transfer) {
    CURL* easy = transfer.easy;
    long timeout_ms = options_.timeout_seconds > 0
                          ? std::max(1L, static_cast<long>(options_.timeout_seconds * 1000))
                          : 0L;
    long connect_ms = timeout_ms > 0 ? std::min(timeout_ms, 10000L) : 10000L;
    curl_easy_setopt(easy, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "personagen/" PERSONAGEN_VERSION);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &transfer);
  }

  void perform() {
    int running = 0;
    CURLMcode code = curl_multi_perform(multi_.get(), &running);
    if (code != CURLM_OK) {
      throw Error(std::string("libcurl: curl_multi_perform failed: ") + curl_multi_strerror(code));
    }
  }

  void drain(std::vector<HttpResponse>& finished) {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_.get(), &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      CURLcode result = message->data.result;  // `message` dies with remove_handle
      char* user = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &user);
      auto* transfer = reinterpret_cast<Transfer*>(user);
      curl_multi_remove_handle(multi_.get(), easy);
      transfer->in_multi = false;
      finished.push_back(complete(*transfer, result));
      free_.push_back(transfer);
      --in_flight_;
    }
  }

  static HttpResponse complete(Transfer& transfer, CURLcode result) {
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
    response.body.clear();
    response.error_text = curl_easy_strerror(result);
    std::string_view detail = trim(transfer.error);
    if (!detail.empty()) {
      response.error_text += ": ";
      response.error_text += detail;
    }
    std::replace(response.error_text.begin(), response.error_text.end(), '\n', ' ');
    std::replace(response.error_text.begin(), response.error_text.end(), '\r', ' ');
    return response;
  }

  TransportOptions options_;
  std::unique_ptr<curl_slist, HeadersDeleter> headers_;  // shared; holds the key, never logged
  std::unique_ptr<CURLM, MultiDeleter> multi_;
  std::vector<std::unique_ptr<Transfer>> transfers_;  // every handle ever made
  std::vector<Transfer*> free_;                       // handles not in the multi handle
  size_t in_flight_ = 0;
};

}  // namespace

std::unique_ptr<Transport> make_curl_transport(const TransportOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace personagen
