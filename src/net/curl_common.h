#pragma once

// What every libcurl client of net/ shares, written once: process-wide initialisation, the
// options every easy handle gets, the mapping of libcurl's result codes, its error text as one
// line, and the Retry-After headers. Used by the transport (curl_transport.cpp) and the Batch
// API client (batch_api.cpp). Only net/ may include this (it includes curl).

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>

#include "personagen/error.h"
#include "personagen/http_transport.h"
#include "util/text_util.h"

#ifndef PERSONAGEN_VERSION
#define PERSONAGEN_VERSION "dev"
#endif

namespace personagen::curl {

// The connect phase (name lookup, TCP and TLS handshakes) gets a cap of its own, shorter than
// --timeout, because --timeout must leave time for a whole completion to be generated (minutes;
// 120 s by default) while a live server connects in milliseconds. A server that has not
// connected in 10 s is down or unreachable (its SYNs dropped); the request should fail then and
// go to its retry, with the endpoint balancer counting the failure, rather than hold its slot
// for the whole --timeout. 10 s still lets a connect survive three lost SYNs (Linux sends them
// again after 1, 3 and 7 s). A shorter --timeout wins; with none (0) the cap still holds.
inline constexpr long kMaxConnectMs = 10000;

// The one place that maps libcurl's result codes onto the transport's closed set.
inline TransportError map_curl_error(CURLcode code) {
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

// Spaces and tabs at either end, and at the back the CR LF that ends a header line or a
// libcurl error message. Line breaks in front are kept, as they always were.
inline std::string_view trim_line(std::string_view s) {
  return trim_back(trim_front(s, kSpaceTab), kSpaceTabNewline);
}

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// curl_global_init is not thread-safe and must run once per process; its failure is sticky.
inline void init_curl_once() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    throw Error(std::string("libcurl: curl_global_init failed: ") + curl_easy_strerror(result));
  }
}

// Whether the user asked for a proxy through the variables libcurl reads. When none is set,
// handles tell libcurl so once, instead of libcurl reading the environment (no_proxy and the
// proxy variables) for every request.
inline bool proxy_in_environment() {
  for (const char* name :
       {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    const char* value = std::getenv(name);
    if (value && *value) return true;
  }
  return false;
}

// Sets the options every personagen easy handle has: the user agent, no proxy unless the
// environment names one, no signals (handles may run off the main thread), keep-alive probes,
// and the timeouts: `timeout_seconds` for the whole transfer (0 = none), kMaxConnectMs or less
// for the connect.
inline void set_common_options(CURL* easy, double timeout_seconds, bool proxy_from_environment) {
  // At least 1 ms: a timeout that rounds down to 0 would tell libcurl never to time out.
  long timeout_ms =
      timeout_seconds > 0 ? std::max(1L, static_cast<long>(timeout_seconds * 1000)) : 0L;
  long connect_ms = timeout_ms > 0 ? std::min(timeout_ms, kMaxConnectMs) : kMaxConnectMs;
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "personagen/" PERSONAGEN_VERSION);
  if (!proxy_from_environment) {
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
  }
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
}

// libcurl's message for `result`, then the detail of its error buffer if any, on one line.
inline std::string error_text(CURLcode result, const char* error_buffer) {
  std::string text = curl_easy_strerror(result);
  std::string_view detail = trim_line(error_buffer);
  if (!detail.empty()) {
    text += ": ";
    text += detail;
  }
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

// Keeps the Retry-After and retry-after-ms headers of a reply in `response`, one header line
// (as a CURLOPT_HEADERFUNCTION gets it) at a time.
inline void read_retry_header(std::string_view line, HttpResponse& response) {
  // A new status line starts a new header block (e.g. after a proxy's CONNECT reply).
  if (line.substr(0, 5) == "HTTP/") {
    response.retry_after.clear();
    response.retry_after_ms.clear();
    return;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  std::string_view name = trim_line(line.substr(0, colon));
  std::string_view value = trim_line(line.substr(colon + 1));
  if (iequals(name, "retry-after")) {
    response.retry_after = value;
  } else if (iequals(name, "retry-after-ms")) {
    response.retry_after_ms = value;
  }
}

}  // namespace personagen::curl
