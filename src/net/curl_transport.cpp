#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/endpoint_balancer.h"
#include "personagen/error.h"
#include "personagen/http_transport.h"
#include "util/text_util.h"

#ifndef PERSONAGEN_VERSION
#define PERSONAGEN_VERSION "dev"
#endif

namespace personagen {
namespace {

using Clock = std::chrono::steady_clock;

// libcurl 7.x walks its whole connection cache when it looks for a connection to reuse and again
// in every curl_multi_remove_handle, so one multi handle with thousands of connections costs
// hundreds of microseconds per request. The transport spreads its connections over several multi
// handles ("shards") of at least kMinShardConnections each, -j 64 still using one. Every multi
// handle holds two descriptors of its own (its wake-up socket pair), so there are at most
// kMaxShards of them.
constexpr size_t kMinShardConnections = 64;
constexpr size_t kMaxShards = 16;
constexpr size_t kMinEvents = 64;       // epoll_wait's first buffer; it doubles while it fills
constexpr size_t kMaxEvents = 1 << 14;  // ... up to this many at once

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

// Spaces and tabs at either end, and at the back the CR LF that ends a header line or a
// libcurl error message. Line breaks in front are kept, as they always were.
std::string_view trim_line(std::string_view s) {
  return trim_back(trim_front(s, kSpaceTab), kSpaceTabNewline);
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

// Whether the user asked for a proxy through the variables libcurl reads. When none is set,
// the transport tells libcurl so once, instead of libcurl reading the environment (no_proxy and
// the proxy variables) for every request.
bool proxy_in_environment() {
  for (const char* name :
       {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    const char* value = std::getenv(name);
    if (value && *value) return true;
  }
  return false;
}

// `url` for a log line: any user:password@ before the host is masked.
std::string display_url(std::string_view url) {
  size_t scheme = url.find("://");
  size_t host = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t at = url.find('@', host);
  if (at == std::string_view::npos || url.find('/', host) < at) return std::string(url);
  return std::string(url.substr(0, host)) + "***@" + std::string(url.substr(at + 1));
}

// Whether a request's outcome says its endpoint is unwell: it could not be reached or did not
// answer, or it answered that it is failing or overloaded. Other 4xx replies, and a reply over
// the size limit, come from a healthy server.
bool endpoint_failed(const HttpResponse& response) {
  if (response.error == TransportError::too_large) return false;  // it answered, at length
  return response.error != TransportError::none || response.status >= 500 || response.status == 429;
}

[[noreturn]] void fail(const char* what, CURLMcode code) {
  throw Error(std::string("libcurl: ") + what + " failed: " + curl_multi_strerror(code));
}

struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct HeadersDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Owns a file descriptor.
struct FileDescriptor {
  int fd = -1;
  explicit FileDescriptor(int descriptor) : fd(descriptor) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

class CurlTransport;

// One multi handle, with its own connection cache and timer, and the transfers it carries.
struct Shard {
  CurlTransport* owner = nullptr;
  uint32_t index = 0;
  std::unique_ptr<CURLM, MultiDeleter> multi;
  size_t in_flight = 0;
  Clock::time_point timer = Clock::time_point::max();  // when libcurl wants its timeout action
  uint64_t timer_updates = 0;
};

// One easy handle and the state of the request it carries. Handles are reused, so their
// options are set once; only the body changes per request.
struct Transfer {
  CURL* easy = nullptr;
  Shard* shard = nullptr;  // the multi handle it is in, or null
  size_t endpoint = 0;     // the index of the URL set on the handle
  uint64_t tag = 0;
  std::string body;  // must outlive the transfer: CURLOPT_POSTFIELDS does not copy it
  HttpResponse response;
  uint64_t max_reply_bytes = 0;
  bool too_large = false;  // on_body stopped the transfer at max_reply_bytes
  char error[CURL_ERROR_SIZE] = {};

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
  }
};

// Stops a reply at max_reply_bytes: a short count makes libcurl abort the transfer with
// CURLE_WRITE_ERROR, which complete() reports as too_large. Nothing past the limit is kept.
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
  std::string_view name = trim_line(line.substr(0, colon));
  std::string_view value = trim_line(line.substr(colon + 1));
  if (iequals(name, "retry-after")) {
    transfer->response.retry_after = value;
  } else if (iequals(name, "retry-after-ms")) {
    transfer->response.retry_after_ms = value;
  }
  return size * count;
}

// Drives libcurl's multi_socket interface from the calling thread with one epoll instance, so
// a wait costs in proportion to the sockets that are ready and the timers that are due, not to
// the connections open. Not thread-safe: the request pool's loop owns it.
class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(const TransportOptions& options)
      : options_(options),
        no_proxy_(!proxy_in_environment()),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_.fd < 0) throw Error(std::string("epoll_create1 failed: ") + std::strerror(errno));
    if (options_.urls.empty()) throw Error("transport: no endpoint URL given");
    // With one endpoint there is nothing to choose: no balancer, no cost per request.
    if (options_.urls.size() > 1) {
      balancer_ = std::make_unique<EndpointBalancer>(options_.urls.size());
    }
    init_curl_once();
    const char* fixed[] = {"Content-Type: application/json", "Accept: application/json", "Expect:"};
    for (const char* header : fixed) append_header(header);
    if (!options_.api_key.empty()) append_header("Authorization: Bearer " + options_.api_key);

    events_.resize(kMinEvents);

    size_t connections = std::max<size_t>(options_.max_connections, 1);
    size_t shards = std::clamp<size_t>(
        (connections + kMinShardConnections - 1) / kMinShardConnections, 1, kMaxShards);
    shard_capacity_ = (connections + shards - 1) / shards;
    for (size_t i = 0; i < shards; ++i) add_shard();
  }

  // Abandons requests still in flight. The multi handles go while the epoll instance their
  // socket callbacks use is open; then the easy handles, and last the headers they pointed to.
  ~CurlTransport() override {
    for (auto& transfer : transfers_) {
      if (transfer->shard) curl_multi_remove_handle(transfer->shard->multi.get(), transfer->easy);
    }
    shards_.clear();
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
    Shard& shard = pick_shard();
    CURLMcode code = curl_multi_add_handle(shard.multi.get(), transfer->easy);
    if (code != CURLM_OK) {
      free_.push_back(transfer);
      fail("curl_multi_add_handle", code);
    }
    transfer->shard = &shard;
    ++shard.in_flight;
    ++in_flight_;
    check_watch_error();
  }

  void wait(int timeout_ms, std::vector<HttpResponse>& finished) override {
    const size_t before = finished.size();
    const Clock::time_point deadline =
        Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    bool polled = false;
    for (;;) {
      Clock::time_point now = Clock::now();
      run_due_timers(now);
      collect(finished);
      if (finished.size() != before) return;
      now = Clock::now();
      if (polled && now >= deadline) return;
      // With no transfers this still sleeps until the deadline, so callers waiting for a
      // retry do not spin.
      Clock::time_point until = std::min(deadline, next_timer());
      auto ms = until > now ? std::chrono::ceil<std::chrono::milliseconds>(until - now).count() : 0;
      polled = true;
      // A signal ends the wait, so that the caller sees it.
      if (!poll(static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX)))) return;
    }
  }

  size_t in_flight() const override { return in_flight_; }

 private:
  // What epoll watches on one socket for libcurl, and for which multi handle.
  struct Watch {
    uint32_t events = 0;  // in the epoll set; 0: not in it
    uint32_t shard = 0;
    bool wanted = false;  // libcurl wants `events`; else they are left from an earlier transfer
  };

  void append_header(const std::string& header) {
    curl_slist* list = curl_slist_append(headers_.get(), header.c_str());
    if (!list) throw Error("libcurl: out of memory building request headers");
    if (!headers_) headers_.reset(list);  // later appends return the same head
  }

  void add_shard() {
    auto shard = std::make_unique<Shard>();
    shard->owner = this;
    shard->index = static_cast<uint32_t>(shards_.size());
    shard->multi.reset(curl_multi_init());
    if (!shard->multi) throw Error("libcurl: curl_multi_init failed");
    CURLM* multi = shard->multi.get();
    // Keep every idle keep-alive connection the shard may need; the pool bounds concurrency.
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(shard_capacity_));
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, shard.get());
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, shard.get());
    shards_.push_back(std::move(shard));
  }

  // The first multi handle with room, so that light traffic reuses few connections.
  Shard& pick_shard() {
    Shard* least = shards_.front().get();
    for (auto& shard : shards_) {
      if (shard->in_flight < shard_capacity_) return *shard;
      if (shard->in_flight < least->in_flight) least = shard.get();
    }
    return *least;
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
    curl_easy_setopt(easy, CURLOPT_URL, options_.urls[transfer.endpoint].c_str());
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "personagen/" PERSONAGEN_VERSION);
    if (no_proxy_) {
      curl_easy_setopt(easy, CURLOPT_PROXY, "");
      curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
    }
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
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
  }

  // libcurl's socket callback: what to watch on `fd` changed.
  static int on_socket(CURL*, curl_socket_t fd, int what, void* user, void*) {
    auto* shard = static_cast<Shard*>(user);
    shard->owner->watch(*shard, fd, what);
    return 0;
  }

  // libcurl's timer callback: run the timeout action in `timeout_ms` (-1: never).
  static int on_timer(CURLM*, long timeout_ms, void* user) {
    set_timer(*static_cast<Shard*>(user), timeout_ms);
    return 0;
  }

  static void set_timer(Shard& shard, long timeout_ms) {
    shard.timer = timeout_ms < 0 ? Clock::time_point::max()
                                 : Clock::now() + std::chrono::milliseconds(timeout_ms);
    ++shard.timer_updates;
  }

  // libcurl's close-socket callback: every socket of a connection ends here.
  static int on_close(void* user, curl_socket_t fd) {
    static_cast<CurlTransport*>(user)->unwatch(fd);
    return ::close(fd);
  }

  // Level-triggered: a socket stays reported while it is ready and in the set. A socket libcurl
  // stops watching stays in the set, because a keep-alive connection's next request usually wants
  // the same events: that saves two epoll_ctl calls per request. It leaves the set when it is
  // closed, or when it is reported while unwanted (e.g. the server closed the idle connection).
  void watch(const Shard& shard, curl_socket_t fd, int what) {
    if (fd < 0) return;
    if (static_cast<size_t>(fd) >= watches_.size()) watches_.resize(static_cast<size_t>(fd) + 1);
    Watch& watch = watches_[static_cast<size_t>(fd)];
    uint32_t events = 0;
    if (what != CURL_POLL_REMOVE) {
      if (what & CURL_POLL_IN) events |= EPOLLIN;
      if (what & CURL_POLL_OUT) events |= EPOLLOUT;
    }
    watch.wanted = events != 0;
    if (events == 0 || (events == watch.events && shard.index == watch.shard)) return;
    epoll_event event{};
    event.events = events;
    event.data.u64 = (uint64_t{shard.index} << 32) | static_cast<uint32_t>(fd);
    int op = watch.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    int rc = ::epoll_ctl(epoll_.fd, op, fd, &event);
    // Should the set and the table disagree, the table is wrong: follow the set.
    if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT) {
      rc = ::epoll_ctl(epoll_.fd, EPOLL_CTL_ADD, fd, &event);
    } else if (rc != 0 && op == EPOLL_CTL_ADD && errno == EEXIST) {
      rc = ::epoll_ctl(epoll_.fd, EPOLL_CTL_MOD, fd, &event);
    }
    if (rc != 0 && watch_errno_ == 0) watch_errno_ = errno;
    watch.events = rc == 0 ? events : 0;
    watch.shard = shard.index;
  }

  // Takes `fd` out of the epoll set before it closes (or when libcurl no longer wants it).
  void unwatch(curl_socket_t fd) {
    if (fd < 0 || static_cast<size_t>(fd) >= watches_.size()) return;
    Watch& watch = watches_[static_cast<size_t>(fd)];
    if (watch.events != 0) ::epoll_ctl(epoll_.fd, EPOLL_CTL_DEL, fd, nullptr);
    watch = Watch{};
  }

  // A failed epoll_ctl cannot throw through libcurl; it is reported after libcurl returns.
  void check_watch_error() {
    if (watch_errno_ == 0) return;
    int error = watch_errno_;
    watch_errno_ = 0;
    throw Error(std::string("epoll_ctl failed: ") + std::strerror(error));
  }

  void dispatch(const epoll_event& event) {
    auto fd = static_cast<curl_socket_t>(event.data.u64 & 0xffffffffu);
    Shard& shard = *shards_[event.data.u64 >> 32];
    if (!watches_[static_cast<size_t>(fd)].wanted) return unwatch(fd);
    // Hang-ups and errors are read, so that libcurl sees the end of file or the socket error.
    int bits = 0;
    if (event.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) bits |= CURL_CSELECT_IN;
    if (event.events & EPOLLOUT) bits |= CURL_CSELECT_OUT;
    if (event.events & EPOLLERR) bits |= CURL_CSELECT_ERR;
    action(shard, fd, bits);
  }

  void action(Shard& shard, curl_socket_t fd, int bits) {
    int running = 0;
    CURLMcode code = curl_multi_socket_action(shard.multi.get(), fd, bits, &running);
    if (code != CURLM_OK) fail("curl_multi_socket_action", code);
    check_watch_error();
  }

  // Between two multi handles' timeout actions, the sockets the first one made ready move on:
  // when thousands of transfers start at once, each handle's first requests go out while the
  // next handle is still connecting, instead of every request waiting for every connection.
  void run_due_timers(Clock::time_point now) {
    bool ran = false;
    for (auto& shard : shards_) {
      if (shard->timer > now) continue;
      if (ran) poll(0);
      ran = true;
      uint64_t updates = shard->timer_updates;
      action(*shard, CURL_SOCKET_TIMEOUT, 0);
      // libcurl calls back only when its next timeout changes; ask when it did not, so that
      // an action run a moment early neither spins nor loses the timer.
      if (shard->timer_updates == updates) {
        long timeout_ms = -1;
        curl_multi_timeout(shard->multi.get(), &timeout_ms);
        set_timer(*shard, timeout_ms);
      }
    }
  }

  // Waits up to `timeout_ms` for sockets and acts on those ready. False when a signal came.
  bool poll(int timeout_ms) {
    int ready =
        ::epoll_wait(epoll_.fd, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) return false;
      throw Error(std::string("epoll_wait failed: ") + std::strerror(errno));
    }
    for (int i = 0; i < ready; ++i) dispatch(events_[i]);
    if (static_cast<size_t>(ready) == events_.size() && events_.size() < kMaxEvents) {
      events_.resize(events_.size() * 2);
    }
    return true;
  }

  Clock::time_point next_timer() const {
    Clock::time_point next = Clock::time_point::max();
    for (const auto& shard : shards_) next = std::min(next, shard->timer);
    return next;
  }

  // Reads every finished transfer first: curl_multi_remove_handle walks the messages still
  // queued, so removing each one as it is read costs the square of a burst.
  void collect(std::vector<HttpResponse>& finished) {
    done_.clear();
    for (auto& shard : shards_) {
      int left = 0;
      while (CURLMsg* message = curl_multi_info_read(shard->multi.get(), &left)) {
        if (message->msg == CURLMSG_DONE) {
          done_.push_back({message->easy_handle, message->data.result});
        }
      }
    }
    for (const Done& done : done_) {
      char* user = nullptr;
      curl_easy_getinfo(done.easy, CURLINFO_PRIVATE, &user);
      auto* transfer = reinterpret_cast<Transfer*>(user);
      Shard& shard = *transfer->shard;
      curl_multi_remove_handle(shard.multi.get(), done.easy);
      transfer->shard = nullptr;
      --shard.in_flight;
      --in_flight_;
      finished.push_back(complete(*transfer, done.result));
      // An error reply may quote the key; nothing downstream (failures.jsonl, logs) may see it.
      HttpResponse& response = finished.back();
      if (response.status >= 300 && !options_.api_key.empty())
        response.body = redacted(response.body, options_.api_key);
      if (balancer_) learn(transfer->endpoint, finished.back());
      free_.push_back(transfer);
    }
    check_watch_error();
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
    response.body = std::string();  // frees a body cut off at the limit
    if (transfer.too_large && result == CURLE_WRITE_ERROR) {
      response.error = TransportError::too_large;
      response.error_text =
          "the reply is over " + std::to_string(transfer.max_reply_bytes) + " bytes";
      return response;
    }
    response.error_text = curl_easy_strerror(result);
    std::string_view detail = trim_line(transfer.error);
    if (!detail.empty()) {
      response.error_text += ": ";
      response.error_text += detail;
    }
    std::replace(response.error_text.begin(), response.error_text.end(), '\n', ' ');
    std::replace(response.error_text.begin(), response.error_text.end(), '\r', ' ');
    return response;
  }

  struct Done {
    CURL* easy;
    CURLcode result;
  };

  TransportOptions options_;
  std::unique_ptr<EndpointBalancer> balancer_;  // null with one endpoint
  bool no_proxy_;
  std::unique_ptr<curl_slist, HeadersDeleter> headers_;  // shared; holds the key, never logged
  FileDescriptor epoll_;
  std::vector<epoll_event> events_;
  std::vector<Watch> watches_;  // by socket number
  int watch_errno_ = 0;
  size_t shard_capacity_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::unique_ptr<Transfer>> transfers_;  // every handle ever made
  std::vector<Transfer*> free_;                       // handles in no multi handle
  std::vector<Done> done_;
  size_t in_flight_ = 0;
};

}  // namespace

std::unique_ptr<Transport> make_curl_transport(const TransportOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace personagen
