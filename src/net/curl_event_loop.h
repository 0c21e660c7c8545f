#pragma once

// Internal to src/net: the event loop under CurlTransport. Only src/net includes <curl/curl.h>.

#include <curl/curl.h>
#include <sys/epoll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace personagen {

class CurlEventLoop;

// One curl multi handle: its own connection cache and timer, and the easy handles it carries.
struct MultiHandle {
  struct Deleter {
    void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
  };

  CurlEventLoop* loop = nullptr;  // for libcurl's callbacks, which get only this struct
  uint32_t index = 0;             // in the loop's list; each epoll event carries it
  std::unique_ptr<CURLM, Deleter> curl;
  size_t in_flight = 0;  // easy handles added and not yet removed
  // When libcurl wants its timeout action run; max() when it wants none.
  std::chrono::steady_clock::time_point timeout_at = std::chrono::steady_clock::time_point::max();
  uint64_t timer_updates = 0;  // how often libcurl moved timeout_at
};

// A transfer libcurl reported done, and how it ended.
struct FinishedTransfer {
  CURL* easy;
  CURLcode result;
};

// Drives libcurl's multi_socket interface from the calling thread with one epoll instance over
// the sockets of all its multi handles, so a wait costs in proportion to the sockets that are
// ready and the timers that are due, not to the connections open.
//
// Why several multi handles: libcurl 7.88 walks a multi handle's whole connection cache when it
// looks for a connection to reuse and again in every curl_multi_remove_handle, so one multi
// handle with thousands of connections costs hundreds of microseconds per request (see
// ARCHITECTURE.md and bench/RESULTS.md). The loop spreads the connections over up to 16.
//
// Not thread-safe: the request pool's loop owns it. What the easy handles carry is the caller's
// business; the loop only adds, watches and removes them.
class CurlEventLoop {
 public:
  using Clock = std::chrono::steady_clock;

  // Enough multi handles for `max_connections` (at least one), each keeping up to its share of
  // them alive. Throws Error when epoll or libcurl cannot be set up.
  explicit CurlEventLoop(size_t max_connections);
  // Cleans up the multi handles, closing their connections, while the epoll set is still open.
  // Easy handles still in one are left to the caller, who removes them first.
  ~CurlEventLoop();
  CurlEventLoop(const CurlEventLoop&) = delete;
  CurlEventLoop& operator=(const CurlEventLoop&) = delete;

  // Makes libcurl close `easy`'s sockets through the loop, which takes them out of the epoll set
  // first. Once per easy handle, before its first add().
  void attach(CURL* easy);

  // Adds `easy` to the first multi handle with room, else to the one with the fewest in flight,
  // so that light traffic keeps reusing few connections. Returns that multi handle. Throws Error
  // when libcurl refuses, with `easy` in none.
  MultiHandle& add(CURL* easy);
  // Takes `easy` out of `multi`, the handle add() returned for it.
  void remove(MultiHandle& multi, CURL* easy);

  // Runs the timeout action of every multi handle whose timer is due at `now`.
  void run_due_timers(Clock::time_point now);
  // Waits up to `timeout_ms` for sockets and acts on those ready. False when a signal came.
  bool poll(int timeout_ms);
  // The earliest time a multi handle wants its timeout action; max() when none does.
  Clock::time_point next_timeout() const;

  // Appends every transfer that libcurl reports done, from every multi handle, to `finished`.
  // They stay in their multi handles until remove(): curl_multi_remove_handle walks the messages
  // still queued, so removing each one as it is read would cost the square of a burst.
  void take_finished(std::vector<FinishedTransfer>& finished);

  // A failed epoll_ctl cannot throw through libcurl's callback; it is kept, and this throws it as
  // an Error after libcurl returns. The loop checks after its own calls into libcurl; a caller
  // checks after add() and remove().
  void check_watch_error();

 private:
  // What epoll watches on one socket for libcurl, and for which multi handle.
  struct Watch {
    uint32_t events = 0;  // in the epoll set; 0: not in it
    uint32_t multi = 0;   // the index of the multi handle the socket belongs to
    bool wanted = false;  // libcurl wants `events`; else they are left from an earlier transfer
  };

  // Owns a file descriptor.
  struct FileDescriptor {
    int fd = -1;
    explicit FileDescriptor(int descriptor) : fd(descriptor) {}
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor();
  };

  void add_multi_handle();
  MultiHandle& pick_multi_handle();

  static int on_socket(CURL* easy, curl_socket_t fd, int what, void* user, void* socket_user);
  static int on_timer(CURLM* multi, long timeout_ms, void* user);
  static int on_close(void* user, curl_socket_t fd);
  static void set_timer(MultiHandle& multi, long timeout_ms);

  void watch(const MultiHandle& multi, curl_socket_t fd, int what);
  void unwatch(curl_socket_t fd);
  void dispatch(const epoll_event& event);
  void socket_action(MultiHandle& multi, curl_socket_t fd, int bits);

  // Declared before multi_handles_: cleaning those up closes sockets through unwatch().
  FileDescriptor epoll_;
  std::vector<epoll_event> events_;  // epoll_wait's buffer
  std::vector<Watch> watches_;       // by socket number
  int watch_errno_ = 0;
  size_t connections_per_multi_ = 0;  // each one's share of max_connections
  std::vector<std::unique_ptr<MultiHandle>> multi_handles_;
};

}  // namespace personagen
