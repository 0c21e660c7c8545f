// CurlTransport when things go wrong: a server that does not answer, a port that refuses, a
// transport destroyed mid-request, and waits that end on libcurl's timers.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "curl_transport_fixture.h"
#include "personagen/http_transport.h"

namespace personagen {
namespace {

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

TEST_F(CurlTransportTest, DestroyingWithRequestsInFlightIsSafe) {
  // Given three requests the server will not answer yet
  auto transport = make_curl_transport(options("/slow"));
  for (uint64_t tag = 0; tag < 3; ++tag) transport->start(HttpRequest{tag, "{}", {}});
  std::vector<HttpResponse> finished;
  transport->wait(50, finished);

  // When the transport is destroyed; then nothing finished and nothing leaks or crashes
  EXPECT_EQ(transport->in_flight(), 3u);
  EXPECT_TRUE(finished.empty());
  transport.reset();
  EXPECT_EQ(transport, nullptr);
}

TEST_F(CurlTransportTest, TimeoutEndsOneLongWaitWithoutSocketActivity) {
  // Given a 200 ms timeout and a request the server will not answer
  TransportOptions slow = options("/slow");
  slow.timeout_seconds = 0.2;
  auto transport = make_curl_transport(slow);
  transport->start(HttpRequest{7, "{}", {}});

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

}  // namespace
}  // namespace personagen
