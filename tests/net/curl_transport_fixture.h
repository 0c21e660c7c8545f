#pragma once

// What the CurlTransportTest files share: a local HTTP server whose handlers echo, count, hold or
// refuse requests, with helpers to send requests through a transport and to read what the
// server saw.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "personagen/http_transport.h"
#include "support/serve_in_background.h"

namespace personagen {

// A port on 127.0.0.1 with no listener: bound once to learn a free number, then closed.
inline int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

class CurlTransportTest : public ::testing::Test {
 protected:
  using Clock = std::chrono::steady_clock;

  void SetUp() override {
    // One thread per keep-alive connection, and connections are never closed by the server.
    server_.new_task_queue = [this] { return new httplib::ThreadPool(server_threads_); };
    server_.set_keep_alive_max_count(100000);
    server_.set_keep_alive_timeout(keep_alive_seconds_);
    server_.set_tcp_nodelay(true);  // else Nagle and delayed ACKs add 40 ms per reply
    server_.Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mutex_);
        client_ports_.insert(req.remote_port);
        ++requests_;
      }
      res.set_content(req.body, "application/json");
    });
    // Counts requests by the name in the path, so that tests can tell endpoints apart.
    server_.Post(R"(/count/(\w+))", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mutex_);
        client_ports_.insert(req.remote_port);
        ++requests_;
        ++by_name_[req.matches[1]];
      }
      res.set_content("{}", "application/json");
    });
    server_.Post("/headers", [](const httplib::Request& req, httplib::Response& res) {
      auto value = [&](const char* name) {
        return req.has_header(name) ? req.get_header_value(name) : std::string("<none>");
      };
      res.set_content("authorization=" + value("Authorization") +
                          "\ncontent-type=" + value("Content-Type") +
                          "\naccept=" + value("Accept") + "\nexpect=" + value("Expect") +
                          "\naccept-encoding=" + value("Accept-Encoding"),
                      "text/plain");
    });
    server_.Post("/unauthorized", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 401;
      res.set_content(
          R"({"error":{"message":"bad key: )" + req.get_header_value("Authorization") + R"("}})",
          "application/json");
    });
    server_.Post("/busy", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_header("Retry-After", "2");
      res.set_content(R"({"error":{"message":"busy"}})", "application/json");
    });
    server_.Post("/busy-ms", [](const httplib::Request&, httplib::Response& res) {
      res.status = 429;
      res.set_header("retry-after-ms", " 250 ");
      res.set_content("slow down", "text/plain");
    });
    // Holds every request until `barrier_` of them are inside at once (or 10 s passed), so all
    // of them answer only if the client kept them all in flight together.
    server_.Post("/barrier", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mutex_);
      ++inside_;
      max_inside_ = std::max(max_inside_, inside_);
      barrier_cv_.notify_all();
      barrier_cv_.wait_for(lock, std::chrono::seconds(10),
                           [this] { return max_inside_ >= barrier_ || released_; });
      --inside_;
      res.set_content("met", "text/plain");
    });
    server_.Post("/slow", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mutex_);
      released_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
      res.set_content("late", "text/plain");
    });
    // httplib listens with a backlog of 5: a burst of 16 connects would overflow it, the kernel
    // would drop SYNs, and clients would stall a second for the retransmit. Raise it.
    server_.set_socket_options([this](int sock) {
      httplib::default_socket_options(sock);
      if (listen_fd_ < 0) listen_fd_ = sock;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    ASSERT_EQ(::listen(listen_fd_, 1024), 0);
    ASSERT_TRUE(serve_in_background(server_, thread_));
  }

  void TearDown() override {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    released_cv_.notify_all();
    barrier_cv_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return "http://" + host + ":" + std::to_string(port_) + path;
  }

  TransportOptions options(const std::string& path) const {
    TransportOptions options;
    options.urls = {url(path)};
    options.timeout_seconds = 5;
    options.max_connections = 16;
    return options;
  }

  // Waits until `count` replies arrived or 10 s passed.
  static std::vector<HttpResponse> collect(Transport& transport, size_t count) {
    std::vector<HttpResponse> finished;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (finished.size() < count && Clock::now() < deadline) transport.wait(100, finished);
    return finished;
  }

  static HttpResponse send_one(Transport& transport, const std::string& body) {
    transport.start(HttpRequest{1, body, {}});
    std::vector<HttpResponse> finished = collect(transport, 1);
    return finished.empty() ? HttpResponse{} : finished[0];
  }

  size_t connections_seen() {
    std::lock_guard lock(mutex_);
    return client_ports_.size();
  }

  size_t requests_seen() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  size_t requests_to(const std::string& name) {
    std::lock_guard lock(mutex_);
    return by_name_[name];
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable released_cv_;
  std::condition_variable barrier_cv_;
  bool released_ = false;
  size_t server_threads_ = 40;
  time_t keep_alive_seconds_ = 5;
  size_t barrier_ = 0;
  size_t inside_ = 0;
  size_t max_inside_ = 0;
  std::set<int> client_ports_;
  size_t requests_ = 0;
  std::map<std::string, size_t> by_name_;
};

}  // namespace personagen
