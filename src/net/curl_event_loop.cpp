#include "net/curl_event_loop.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "personagen/error.h"

namespace personagen {
namespace {

// A multi handle gets at least this many connections before a second one is made, so a run at
// the default -j 64 (bench scenario A) keeps one: the walk over a cache that small does not show
// among libcurl's costs in A's profile (bench/RESULTS.md).
constexpr size_t kMinConnectionsPerMulti = 64;
// At -j 4096 (bench scenario C) 16 handles keep 256 connections each, which measured 56
// microseconds of CPU per request against 257 on one handle (bench/RESULTS.md). Each one costs
// too: every loop turn looks at every handle's timer and messages, and each holds two
// descriptors of its own (its wake-up socket pair), taken from the 128 spare descriptors that
// ensure_file_limit leaves above -j.
constexpr size_t kMaxMultiHandles = 16;
// epoll_wait's buffer starts small, so that a small run keeps it small, and doubles each time a
// wait fills it, so that a burst of thousands of ready sockets needs few calls. Sockets past the
// end are not lost (the set is level-triggered: the next wait reports them), so the cap only
// bounds the memory, about 200 KB.
constexpr size_t kMinEvents = 64;
constexpr size_t kMaxEvents = 1 << 14;

[[noreturn]] void fail(const char* what, CURLMcode code) {
  throw Error(std::string("libcurl: ") + what + " failed: " + curl_multi_strerror(code));
}

}  // namespace

CurlEventLoop::FileDescriptor::~FileDescriptor() {
  if (fd >= 0) ::close(fd);
}

CurlEventLoop::CurlEventLoop(size_t max_connections) : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_.fd < 0) throw Error(std::string("epoll_create1 failed: ") + std::strerror(errno));
  events_.resize(kMinEvents);
  size_t connections = std::max<size_t>(max_connections, 1);
  size_t count = std::clamp<size_t>(
      (connections + kMinConnectionsPerMulti - 1) / kMinConnectionsPerMulti, 1, kMaxMultiHandles);
  connections_per_multi_ = (connections + count - 1) / count;
  for (size_t i = 0; i < count; ++i) add_multi_handle();
}

CurlEventLoop::~CurlEventLoop() {
  multi_handles_.clear();
}

void CurlEventLoop::add_multi_handle() {
  auto multi = std::make_unique<MultiHandle>();
  multi->loop = this;
  multi->index = static_cast<uint32_t>(multi_handles_.size());
  multi->curl.reset(curl_multi_init());
  if (!multi->curl) throw Error("libcurl: curl_multi_init failed");
  CURLM* curl = multi->curl.get();
  // Keep every idle keep-alive connection the handle may need; the pool bounds concurrency.
  curl_multi_setopt(curl, CURLMOPT_MAXCONNECTS, static_cast<long>(connections_per_multi_));
  curl_multi_setopt(curl, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
  curl_multi_setopt(curl, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(curl, CURLMOPT_SOCKETDATA, multi.get());
  curl_multi_setopt(curl, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(curl, CURLMOPT_TIMERDATA, multi.get());
  multi_handles_.push_back(std::move(multi));
}

void CurlEventLoop::attach(CURL* easy) {
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
}

MultiHandle& CurlEventLoop::add(CURL* easy) {
  MultiHandle& multi = pick_multi_handle();
  CURLMcode code = curl_multi_add_handle(multi.curl.get(), easy);
  if (code != CURLM_OK) fail("curl_multi_add_handle", code);
  ++multi.in_flight;
  return multi;
}

void CurlEventLoop::remove(MultiHandle& multi, CURL* easy) {
  curl_multi_remove_handle(multi.curl.get(), easy);
  --multi.in_flight;
}

MultiHandle& CurlEventLoop::pick_multi_handle() {
  MultiHandle* least = multi_handles_.front().get();
  for (auto& multi : multi_handles_) {
    if (multi->in_flight < connections_per_multi_) return *multi;
    if (multi->in_flight < least->in_flight) least = multi.get();
  }
  return *least;
}

// libcurl's socket callback: what to watch on `fd` changed.
int CurlEventLoop::on_socket(CURL*, curl_socket_t fd, int what, void* user, void*) {
  auto* multi = static_cast<MultiHandle*>(user);
  multi->loop->watch(*multi, fd, what);
  return 0;
}

// libcurl's timer callback: run the timeout action in `timeout_ms` (-1: never).
int CurlEventLoop::on_timer(CURLM*, long timeout_ms, void* user) {
  set_timer(*static_cast<MultiHandle*>(user), timeout_ms);
  return 0;
}

void CurlEventLoop::set_timer(MultiHandle& multi, long timeout_ms) {
  multi.timeout_at = timeout_ms < 0 ? Clock::time_point::max()
                                    : Clock::now() + std::chrono::milliseconds(timeout_ms);
  ++multi.timer_updates;
}

// libcurl's close-socket callback: every socket of a connection ends here.
int CurlEventLoop::on_close(void* user, curl_socket_t fd) {
  static_cast<CurlEventLoop*>(user)->unwatch(fd);
  return ::close(fd);
}

// Level-triggered: a socket stays reported while it is ready and in the set. A socket libcurl
// stops watching stays in the set, because a keep-alive connection's next request usually wants
// the same events: that saves two epoll_ctl calls per request. It leaves the set when it is
// closed, or when it is reported while unwanted (e.g. the server closed the idle connection).
void CurlEventLoop::watch(const MultiHandle& multi, curl_socket_t fd, int what) {
  if (fd < 0) return;
  if (static_cast<size_t>(fd) >= watches_.size()) watches_.resize(static_cast<size_t>(fd) + 1);
  Watch& watch = watches_[static_cast<size_t>(fd)];
  uint32_t events = 0;
  if (what != CURL_POLL_REMOVE) {
    if (what & CURL_POLL_IN) events |= EPOLLIN;
    if (what & CURL_POLL_OUT) events |= EPOLLOUT;
  }
  watch.wanted = events != 0;
  if (events == 0 || (events == watch.events && multi.index == watch.multi)) return;
  epoll_event event{};
  event.events = events;
  // epoll hands these 64 bits back with each event: the multi handle's index above, the socket
  // below.
  event.data.u64 = (uint64_t{multi.index} << 32) | static_cast<uint32_t>(fd);
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
  watch.multi = multi.index;
}

// Takes `fd` out of the epoll set before it closes (or when libcurl no longer wants it).
void CurlEventLoop::unwatch(curl_socket_t fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= watches_.size()) return;
  Watch& watch = watches_[static_cast<size_t>(fd)];
  if (watch.events != 0) ::epoll_ctl(epoll_.fd, EPOLL_CTL_DEL, fd, nullptr);
  watch = Watch{};
}

void CurlEventLoop::check_watch_error() {
  if (watch_errno_ == 0) return;
  int error = watch_errno_;
  watch_errno_ = 0;
  throw Error(std::string("epoll_ctl failed: ") + std::strerror(error));
}

void CurlEventLoop::dispatch(const epoll_event& event) {
  auto fd = static_cast<curl_socket_t>(event.data.u64 & 0xffffffffu);
  MultiHandle& multi = *multi_handles_[event.data.u64 >> 32];
  if (!watches_[static_cast<size_t>(fd)].wanted) return unwatch(fd);
  // Hang-ups and errors are read, so that libcurl sees the end of file or the socket error.
  int bits = 0;
  if (event.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) bits |= CURL_CSELECT_IN;
  if (event.events & EPOLLOUT) bits |= CURL_CSELECT_OUT;
  if (event.events & EPOLLERR) bits |= CURL_CSELECT_ERR;
  socket_action(multi, fd, bits);
}

void CurlEventLoop::socket_action(MultiHandle& multi, curl_socket_t fd, int bits) {
  int running = 0;
  CURLMcode code = curl_multi_socket_action(multi.curl.get(), fd, bits, &running);
  if (code != CURLM_OK) fail("curl_multi_socket_action", code);
  check_watch_error();
}

// Between two multi handles' timeout actions, the sockets the first one made ready move on:
// when thousands of transfers start at once, each handle's first requests go out while the
// next handle is still connecting, instead of every request waiting for every connection.
void CurlEventLoop::run_due_timers(Clock::time_point now) {
  bool ran = false;
  for (auto& multi : multi_handles_) {
    if (multi->timeout_at > now) continue;
    if (ran) poll(0);
    ran = true;
    uint64_t updates = multi->timer_updates;
    socket_action(*multi, CURL_SOCKET_TIMEOUT, 0);
    // libcurl calls back only when its next timeout changes; ask when it did not, so that
    // an action run a moment early neither spins nor loses the timer.
    if (multi->timer_updates == updates) {
      long timeout_ms = -1;
      curl_multi_timeout(multi->curl.get(), &timeout_ms);
      set_timer(*multi, timeout_ms);
    }
  }
}

bool CurlEventLoop::poll(int timeout_ms) {
  int ready = ::epoll_wait(epoll_.fd, events_.data(), static_cast<int>(events_.size()), timeout_ms);
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

CurlEventLoop::Clock::time_point CurlEventLoop::next_timeout() const {
  Clock::time_point next = Clock::time_point::max();
  for (const auto& multi : multi_handles_) next = std::min(next, multi->timeout_at);
  return next;
}

void CurlEventLoop::take_finished(std::vector<FinishedTransfer>& finished) {
  for (auto& multi : multi_handles_) {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi->curl.get(), &left)) {
      if (message->msg == CURLMSG_DONE) {
        finished.push_back({message->easy_handle, message->data.result});
      }
    }
  }
}

}  // namespace personagen
