// CurlTransport: requests and replies, and connections kept alive. Faults and timeouts are in
// curl_transport_fault_test.cpp, several endpoints in curl_transport_endpoints_test.cpp.

#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "curl_transport_fixture.h"
#include "personagen/error.h"
#include "personagen/http_transport.h"

namespace personagen {
namespace {

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

TEST_F(CurlTransportTest, PostsTheBodyAndReturnsStatusAndBody) {
  // Given a transport to the echo handler
  auto transport = make_curl_transport(options("/echo"));

  // When a request is sent
  transport->start(HttpRequest{42, R"({"hello":"world"})", {}});
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
      transport->start(HttpRequest{started, "{\"n\":" + std::to_string(started) + "}", {}});
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
  for (uint64_t tag = 0; tag < 200; ++tag) transport->start(HttpRequest{tag, "{}", {}});
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
