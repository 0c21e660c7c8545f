#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "personagen/error.h"
#include "personagen/http_transport.h"

namespace personagen {
namespace {

using Clock = std::chrono::steady_clock;

// A port on 127.0.0.1 with no listener: bound once to learn a free number, then closed.
int unused_port() {
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

// Sets (or, given null, unsets) an environment variable for one scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Routes spdlog's default logger, at every level, into a string for one scope.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

class CurlTransportTest : public ::testing::Test {
 protected:
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
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!server_.is_running() && Clock::now() < deadline) std::this_thread::yield();
    ASSERT_TRUE(server_.is_running());
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
    transport.start(HttpRequest{1, body});
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

TEST_F(CurlTransportTest, PostsTheBodyAndReturnsStatusAndBody) {
  // Given a transport to the echo handler
  auto transport = make_curl_transport(options("/echo"));

  // When a request is sent
  transport->start(HttpRequest{42, R"({"hello":"world"})"});
  EXPECT_EQ(transport->in_flight(), 1u);
  std::vector<HttpResponse> finished = collect(*transport, 1);

  // Then the reply carries the tag, status 200 and the echoed body
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].tag, 42u);
  EXPECT_EQ(finished[0].status, 200);
  EXPECT_EQ(finished[0].error, TransportError::none);
  EXPECT_EQ(finished[0].body, R"({"hello":"world"})");
  EXPECT_EQ(transport->in_flight(), 0u);
}

TEST_F(CurlTransportTest, LargeBodiesRoundTrip) {
  // Given a 2 MB body, beyond curl's default Expect: 100-continue threshold
  auto transport = make_curl_transport(options("/echo"));
  std::string body = "[\"" + std::string(2 << 20, 'x') + "\"]";

  // When it is sent; then it comes back whole (compressed on the wire when the server can)
  HttpResponse response = send_one(*transport, body);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, body);
}

TEST_F(CurlTransportTest, SendsJsonHeadersAndTheKeyOnlyWhenSet) {
  // Given one transport with a key and one without
  TransportOptions with_key = options("/headers");
  with_key.api_key = "sk-test-123";
  auto keyed = make_curl_transport(with_key);
  auto anonymous = make_curl_transport(options("/headers"));

  // When each sends a request
  HttpResponse a = send_one(*keyed, "{}");
  HttpResponse b = send_one(*anonymous, "{}");

  // Then the bearer token is sent only by the first, and both send JSON without Expect
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(b.status, 200);
  EXPECT_NE(a.body.find("authorization=Bearer sk-test-123\n"), std::string::npos) << a.body;
  EXPECT_NE(b.body.find("authorization=<none>\n"), std::string::npos) << b.body;
  for (const std::string& body : {a.body, b.body}) {
    EXPECT_NE(body.find("content-type=application/json\n"), std::string::npos) << body;
    EXPECT_NE(body.find("accept=application/json\n"), std::string::npos) << body;
    EXPECT_NE(body.find("expect=<none>\n"), std::string::npos) << body;
    EXPECT_NE(body.find("gzip"), std::string::npos) << body;  // curl decodes compressed replies
  }
}

TEST_F(CurlTransportTest, AnErrorReplyThatQuotesTheKeyComesBackMasked) {
  // Given a server that answers 401 quoting the Authorization header it got
  TransportOptions with_key = options("/unauthorized");
  with_key.api_key = "sk-quoted-back-456";
  auto transport = make_curl_transport(with_key);

  // When a request is sent
  HttpResponse r = send_one(*transport, "{}");

  // Then the reply keeps the server's words but not the key
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, R"({"error":{"message":"bad key: Bearer ***"}})");
}

TEST_F(CurlTransportTest, CapturesRetryAfterHeaders) {
  // Given handlers that answer 503 with Retry-After and 429 with retry-after-ms
  auto busy = make_curl_transport(options("/busy"));
  auto busy_ms = make_curl_transport(options("/busy-ms"));

  // When each is called
  HttpResponse a = send_one(*busy, "{}");
  HttpResponse b = send_one(*busy_ms, "{}");

  // Then the status, body and trimmed header values are captured
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.error, TransportError::none);
  EXPECT_EQ(a.retry_after, "2");
  EXPECT_EQ(a.retry_after_ms, "");
  EXPECT_EQ(a.body, R"({"error":{"message":"busy"}})");
  EXPECT_EQ(b.status, 429);
  EXPECT_EQ(b.retry_after_ms, "250");
  EXPECT_EQ(b.retry_after, "");
}

TEST_F(CurlTransportTest, SlowServerTimesOut) {
  // Given a 200 ms timeout, a key, and a handler that does not answer
  TransportOptions slow = options("/slow");
  slow.timeout_seconds = 0.2;
  slow.api_key = "sk-never-shown";
  auto transport = make_curl_transport(slow);

  // When a request is sent
  auto begin = Clock::now();
  HttpResponse response = send_one(*transport, "{}");
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();

  // Then it ends as a timeout, soon, with a one-line reason that does not show the key
  EXPECT_EQ(response.error, TransportError::timeout);
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error_text.empty());
  EXPECT_EQ(response.error_text.find('\n'), std::string::npos);
  EXPECT_EQ(response.error_text.find("sk-never-shown"), std::string::npos);
  EXPECT_LT(elapsed, 3.0);
}

TEST_F(CurlTransportTest, RefusedConnectionIsAConnectError) {
  // Given a port with no listener
  int port = unused_port();
  ASSERT_GT(port, 0);
  TransportOptions refused = options("/echo");
  refused.urls = {"http://127.0.0.1:" + std::to_string(port) + "/v1/chat/completions"};
  auto transport = make_curl_transport(refused);

  // When a request is sent; then it fails to connect
  HttpResponse response = send_one(*transport, "{}");
  EXPECT_EQ(response.error, TransportError::connect);
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error_text.empty());
}

TEST_F(CurlTransportTest, ManyRequestsCompleteOverFewConnections) {
  // Given 100 requests with at most 16 in flight
  auto transport = make_curl_transport(options("/echo"));
  std::vector<HttpResponse> finished;
  size_t started = 0;
  size_t max_in_flight = 0;
  auto deadline = Clock::now() + std::chrono::seconds(10);

  // When they are sent, topping up as replies arrive
  while (finished.size() < 100 && Clock::now() < deadline) {
    while (started < 100 && transport->in_flight() < 16) {
      transport->start(HttpRequest{started, "{\"n\":" + std::to_string(started) + "}"});
      ++started;
    }
    max_in_flight = std::max(max_in_flight, transport->in_flight());
    transport->wait(100, finished);
  }

  // Then every reply arrives once with its own body, over kept-alive connections
  ASSERT_EQ(finished.size(), 100u);
  std::set<uint64_t> tags;
  for (const HttpResponse& response : finished) {
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "{\"n\":" + std::to_string(response.tag) + "}");
    tags.insert(response.tag);
  }
  EXPECT_EQ(tags.size(), 100u);
  EXPECT_EQ(max_in_flight, 16u);
  EXPECT_LE(connections_seen(), 16u);
}

TEST_F(CurlTransportTest, SequentialRequestsReuseOneConnection) {
  // Given one transport
  auto transport = make_curl_transport(options("/echo"));

  // When 20 requests are sent one after another
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(send_one(*transport, "{}").status, 200);
  }

  // Then the server saw them all on a single connection
  EXPECT_EQ(requests_seen(), 20u);
  EXPECT_EQ(connections_seen(), 1u);
}

TEST_F(CurlTransportTest, DestroyingWithRequestsInFlightIsSafe) {
  // Given three requests the server will not answer yet
  auto transport = make_curl_transport(options("/slow"));
  for (uint64_t tag = 0; tag < 3; ++tag) transport->start(HttpRequest{tag, "{}"});
  std::vector<HttpResponse> finished;
  transport->wait(50, finished);

  // When the transport is destroyed; then nothing finished and nothing leaks or crashes
  EXPECT_EQ(transport->in_flight(), 3u);
  EXPECT_TRUE(finished.empty());
  transport.reset();
  EXPECT_EQ(transport, nullptr);
}

TEST_F(CurlTransportTest, SequentialRequestsReuseOneConnectionAtHighConcurrency) {
  // Given a transport sized for 1,000 connections, which spreads them over several multi handles
  TransportOptions wide = options("/echo");
  wide.max_connections = 1000;
  auto transport = make_curl_transport(wide);

  // When 20 requests are sent one after another
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(send_one(*transport, "{}").status, 200);
  }

  // Then they still shared a single connection
  EXPECT_EQ(requests_seen(), 20u);
  EXPECT_EQ(connections_seen(), 1u);
}

TEST_F(CurlTransportTest, TimeoutEndsOneLongWaitWithoutSocketActivity) {
  // Given a 200 ms timeout and a request the server will not answer
  TransportOptions slow = options("/slow");
  slow.timeout_seconds = 0.2;
  auto transport = make_curl_transport(slow);
  transport->start(HttpRequest{7, "{}"});

  // When the caller waits once, for up to 5 s
  std::vector<HttpResponse> finished;
  auto begin = Clock::now();
  transport->wait(5000, finished);
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();

  // Then libcurl's timer ends that wait with the timed-out request, long before 5 s
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].tag, 7u);
  EXPECT_EQ(finished[0].error, TransportError::timeout);
  EXPECT_LT(elapsed, 3.0);
  EXPECT_EQ(transport->in_flight(), 0u);
}

TEST_F(CurlTransportTest, WaitWithNothingInFlightSleepsForItsTimeout) {
  // Given a transport with nothing to do
  auto transport = make_curl_transport(options("/echo"));

  // When the caller waits 60 ms
  std::vector<HttpResponse> finished;
  auto begin = Clock::now();
  transport->wait(60, finished);
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();

  // Then it slept that long instead of returning at once, and nothing finished
  EXPECT_GE(elapsed, 0.055);
  EXPECT_TRUE(finished.empty());
}

TEST_F(CurlTransportTest, HostNamesAreResolved) {
  // Given a URL that names the server's host rather than its address
  TransportOptions named = options("/echo");
  named.urls = {url("/echo", "localhost")};
  auto transport = make_curl_transport(named);

  // When a request is sent; then it arrives and comes back
  HttpResponse response = send_one(*transport, R"({"n":1})");
  EXPECT_EQ(response.status, 200) << response.error_text;
  EXPECT_EQ(response.body, R"({"n":1})");
}

TEST_F(CurlTransportTest, ProxyFromTheEnvironmentIsUsed) {
  // Given http_proxy naming the test server, and a URL whose host cannot resolve
  ScopedEnv proxy("http_proxy", ("http://127.0.0.1:" + std::to_string(port_)).c_str());
  ScopedEnv no_proxy("no_proxy", nullptr);
  ScopedEnv no_proxy_upper("NO_PROXY", nullptr);
  TransportOptions proxied = options("/echo");
  proxied.urls = {"http://proxied.invalid/echo"};
  auto transport = make_curl_transport(proxied);

  // When a request is sent
  HttpResponse response = send_one(*transport, "{}");

  // Then an HTTP server answered it: the proxy, since the URL's own host does not exist
  EXPECT_EQ(response.error, TransportError::none) << response.error_text;
  EXPECT_GT(response.status, 0);
}

TEST_F(CurlTransportTest, EqualEndpointsShareRequestsAndKeepOneConnectionEach) {
  // Given two endpoints on two host names (two connection-cache keys) of the same server
  TransportOptions two = options("/count/a");
  two.urls.push_back(url("/count/b", "localhost"));
  auto transport = make_curl_transport(two);

  // When 20 requests are sent one after another
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(send_one(*transport, "{}").status, 200);
  }

  // Then each endpoint got half, each over a single kept-alive connection
  EXPECT_EQ(requests_to("a"), 10u);
  EXPECT_EQ(requests_to("b"), 10u);
  EXPECT_EQ(connections_seen(), 2u);
}

TEST_F(CurlTransportTest, ARefusingEndpointIsLeftOutAndLoggedWithoutSecrets) {
  // Given a live endpoint, and a dead one whose URL carries a password, and an API key
  int port = unused_port();
  ASSERT_GT(port, 0);
  TransportOptions two = options("/count/a");
  two.urls.push_back("http://user:pw-secret@127.0.0.1:" + std::to_string(port) + "/v1/x");
  two.api_key = "sk-never-logged";
  LogCapture log;
  auto transport = make_curl_transport(two);

  // When 40 requests are sent one after another
  int refused = 0;
  for (int i = 0; i < 40; ++i) {
    HttpResponse response = send_one(*transport, "{}");
    if (response.error == TransportError::connect) ++refused;
  }

  // Then the dead endpoint got only the 5 that failed in a row before it was left out
  EXPECT_EQ(refused, 5);
  EXPECT_EQ(requests_to("a"), 35u);

  // And one warning names it, with the password masked and no key
  std::string text = log.text();
  std::string name = "http://***@127.0.0.1:" + std::to_string(port) + "/v1/x";
  EXPECT_NE(text.find("endpoint " + name + " left out for 5s after 5 failures"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("left out"), text.rfind("left out")) << text;
  EXPECT_EQ(text.find("pw-secret"), std::string::npos) << text;
  EXPECT_EQ(text.find("sk-never-logged"), std::string::npos) << text;
}

TEST_F(CurlTransportTest, ServerErrorsEjectAnEndpointButClientErrorsDoNot) {
  // Given a live endpoint with one answering 503 and another with one answering 404
  TransportOptions busy = options("/count/a");
  busy.urls.push_back(url("/busy"));
  TransportOptions missing = options("/count/b");
  missing.urls.push_back(url("/no-such-path"));
  auto to_busy = make_curl_transport(busy);
  auto to_missing = make_curl_transport(missing);

  // When 30 requests go through each transport, one after another
  std::map<long, int> busy_statuses, missing_statuses;
  for (int i = 0; i < 30; ++i) {
    ++busy_statuses[send_one(*to_busy, "{}").status];
    ++missing_statuses[send_one(*to_missing, "{}").status];
  }

  // Then the 503 endpoint is left out after 5, while the 404 one keeps its half
  EXPECT_EQ(busy_statuses[503], 5);
  EXPECT_EQ(requests_to("a"), 25u);
  EXPECT_EQ(missing_statuses[404], 15);
  EXPECT_EQ(requests_to("b"), 15u);
}

TEST_F(CurlTransportTest, NoUrlIsAnError) {
  // Given options without a URL; when a transport is made; then it refuses
  TransportOptions none = options("/echo");
  none.urls.clear();
  EXPECT_THROW(make_curl_transport(none), Error);
}

// The same server with a thread for each of many connections.
class CurlTransportManyTest : public CurlTransportTest {
 protected:
  CurlTransportManyTest() { server_threads_ = 256; }
};

TEST_F(CurlTransportManyTest, TwoHundredRequestsAreInFlightTogether) {
  // Given a handler that answers only once 200 requests are inside it at the same time
  {
    std::lock_guard lock(mutex_);
    barrier_ = 200;
  }
  TransportOptions many = options("/barrier");
  many.max_connections = 200;
  auto transport = make_curl_transport(many);

  // When 200 requests are started at once
  auto begin = Clock::now();
  for (uint64_t tag = 0; tag < 200; ++tag) transport->start(HttpRequest{tag, "{}"});
  EXPECT_EQ(transport->in_flight(), 200u);
  std::vector<HttpResponse> finished = collect(*transport, 200);
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();

  // Then they overlapped: the server held all 200 at once, and each was answered once, soon
  ASSERT_EQ(finished.size(), 200u);
  std::set<uint64_t> tags;
  for (const HttpResponse& response : finished) {
    EXPECT_EQ(response.status, 200) << response.error_text;
    EXPECT_EQ(response.body, "met");
    tags.insert(response.tag);
  }
  EXPECT_EQ(tags.size(), 200u);
  EXPECT_EQ(transport->in_flight(), 0u);
  std::lock_guard lock(mutex_);
  EXPECT_EQ(max_inside_, 200u);
  EXPECT_LT(elapsed, 5.0);
}

// The same server, closing connections idle for a second.
class CurlTransportIdleCloseTest : public CurlTransportTest {
 protected:
  CurlTransportIdleCloseTest() { keep_alive_seconds_ = 1; }
};

double thread_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

TEST_F(CurlTransportIdleCloseTest, AConnectionTheServerClosedWhileIdleIsReplaced) {
  // Given one request done over a keep-alive connection
  auto transport = make_curl_transport(options("/echo"));
  ASSERT_EQ(send_one(*transport, "{}").status, 200);

  // When the caller waits while the server closes that idle connection
  std::vector<HttpResponse> finished;
  double cpu_before = thread_cpu_seconds();
  transport->wait(2000, finished);
  double cpu = thread_cpu_seconds() - cpu_before;

  // Then the wait did not spin on the closed socket, and the next request opens a new connection
  EXPECT_TRUE(finished.empty());
  EXPECT_LT(cpu, 0.3);
  HttpResponse response = send_one(*transport, "{}");
  EXPECT_EQ(response.status, 200) << response.error_text;
  EXPECT_EQ(requests_seen(), 2u);
  EXPECT_EQ(connections_seen(), 2u);
}

}  // namespace
}  // namespace personagen
