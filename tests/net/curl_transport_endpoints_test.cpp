// CurlTransport with several endpoints: how requests are shared, and when an endpoint is left
// out.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "curl_transport_fixture.h"
#include "personagen/http_transport.h"

namespace personagen {
namespace {

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

}  // namespace
}  // namespace personagen
