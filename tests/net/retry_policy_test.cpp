#include "net/retry_policy.h"

#include <gtest/gtest.h>

#include <ctime>
#include <random>
#include <string>

#include "support/fake_transport.h"

namespace personagen {
namespace {

HttpResponse transport_error(TransportError error) {
  HttpResponse response;
  response.error = error;
  response.error_text = "detail";
  return response;
}

TEST(ClassifyHttpTest, MapsStatusesAndErrorsOntoActions) {
  using A = Verdict::Action;
  struct Case {
    HttpResponse response;
    A action;
    FailureKind kind;
  };
  const Case cases[] = {
      {FakeTransport::status(200), A::accept, FailureKind::http_status},
      {FakeTransport::status(204), A::accept, FailureKind::http_status},
      {FakeTransport::status(400), A::fail, FailureKind::http_status},
      {FakeTransport::status(401), A::fatal, FailureKind::auth},
      {FakeTransport::status(403), A::fatal, FailureKind::auth},
      {FakeTransport::status(404), A::fail, FailureKind::http_status},
      {FakeTransport::status(408), A::retry, FailureKind::http_status},
      {FakeTransport::status(409), A::retry, FailureKind::http_status},
      {FakeTransport::status(422), A::fail, FailureKind::http_status},
      {FakeTransport::status(429), A::retry, FailureKind::http_status},
      {FakeTransport::status(500), A::retry, FailureKind::http_status},
      {FakeTransport::status(503), A::retry, FailureKind::http_status},
      {FakeTransport::status(599), A::retry, FailureKind::http_status},
      {FakeTransport::status(301), A::fail, FailureKind::http_status},
      {transport_error(TransportError::timeout), A::retry, FailureKind::timeout},
      {transport_error(TransportError::connect), A::retry, FailureKind::transport},
      {transport_error(TransportError::send_recv), A::retry, FailureKind::transport},
      {transport_error(TransportError::bad_response), A::retry, FailureKind::transport},
      {transport_error(TransportError::other), A::retry, FailureKind::transport},
  };
  for (const Case& c : cases) {
    // Given a reply; when it is classified; then the action and kind match the table
    Verdict verdict = classify_http(c.response);
    SCOPED_TRACE("status " + std::to_string(c.response.status) + " error " +
                 std::to_string(static_cast<int>(c.response.error)));
    EXPECT_EQ(verdict.action, c.action);
    if (c.action != A::accept) {
      EXPECT_EQ(verdict.kind, c.kind);
    }
  }
}

TEST(ClassifyHttpTest, ReasonsNameTheStatusOrTheError) {
  // Given a 503 with a body and a timeout; when classified; then the reasons say what happened
  Verdict http = classify_http(FakeTransport::status(503, "overloaded"));
  EXPECT_EQ(http.reason.rfind("HTTP 503: ", 0), 0u) << http.reason;
  EXPECT_NE(http.reason.find("overloaded"), std::string::npos) << http.reason;
  EXPECT_EQ(classify_http(FakeTransport::status(502)).reason, "HTTP 502: (empty body)");
  Verdict timeout = classify_http(transport_error(TransportError::timeout));
  EXPECT_EQ(timeout.reason, "timeout: detail");
  Verdict refused = classify_http(transport_error(TransportError::connect));
  EXPECT_EQ(refused.reason, "transport: detail");
}

TEST(ClassifyHttpTest, ARefusedResponseFormatStopsTheRunAndSuggestsStructuredOff) {
  // Given the words with which servers refuse a response_format they cannot take
  const char* const refusals[] = {
      // OpenAI: strict mode with an unsupported keyword, and a model without structured outputs
      R"({"error":{"message":"Invalid schema for response_format 'npc': In context=('properties', )"
      R"('name'), 'maxLength' is not permitted.","type":"invalid_request_error",)"
      R"("param":"response_format","code":"invalid_json_schema"}})",
      R"({"error":{"message":"Invalid parameter: 'response_format' of type 'json_schema' is not )"
      R"(supported with this model."}})",
      // vLLM (xgrammar), and before 0.10 guided_json
      R"({"object":"error","message":"The provided JSON schema contains features not supported )"
      R"(by xgrammar.","type":"BadRequestError","code":400})",
      R"({"object":"error","message":"guided_json must be a valid JSON schema"})",
      // llama.cpp
      R"({"error":{"code":400,"message":"response_format type must be one of "text" or )"
      R"("json_object", but got: json_schema","type":"invalid_request_error"}})",
      R"({"error":{"message":"JSON schema conversion failed: Unrecognized schema"}})",
      // SGLang and others
      R"({"object":"error","message":"Failed to compile the grammar"})",
      R"({"detail":"Structured outputs are not supported by this backend"})",
  };
  for (long status : {400L, 422L}) {
    for (const char* body : refusals) {
      // When one comes back with a 400 or a 422
      Verdict verdict = classify_http(FakeTransport::status(status, body), true);
      // Then the run stops at once, with one line that says why and what to do
      EXPECT_EQ(verdict.action, Verdict::Action::fatal) << body;
      EXPECT_EQ(verdict.kind, FailureKind::http_status);
      EXPECT_EQ(verdict.reason.rfind(
                    "the server refused response_format (HTTP " + std::to_string(status) + ": ", 0),
                0u)
          << verdict.reason;
      EXPECT_NE(verdict.reason.find("it may not support structured outputs: rerun with "
                                    "--structured off --restart"),
                std::string::npos)
          << verdict.reason;
      EXPECT_EQ(verdict.reason.find('\n'), std::string::npos);
      // A request that carried no response_format fails alone: the words are about something
      // else (a grammar in the prompt, say).
      EXPECT_EQ(classify_http(FakeTransport::status(status, body)).action, Verdict::Action::fail)
          << body;
    }
  }
  // A 400 about something else still fails the request alone, and a 500 naming response_format
  // is retried like any 5xx.
  EXPECT_EQ(classify_http(FakeTransport::status(
                              400, R"({"error":{"message":"This model's maximum context length )"
                                   R"(is 4096 tokens."}})"))
                .action,
            Verdict::Action::fail);
  EXPECT_EQ(
      classify_http(FakeTransport::status(500, R"({"error":{"message":"response_format failed"}})"),
                    true)
          .action,
      Verdict::Action::retry);
}

TEST(FailureKindTest, NamesAreStable) {
  // Given the kinds; when named; then the names are those of failures.jsonl
  EXPECT_EQ(to_string(FailureKind::http_status), "http_status");
  EXPECT_EQ(to_string(FailureKind::timeout), "timeout");
  EXPECT_EQ(to_string(FailureKind::transport), "transport");
  EXPECT_EQ(to_string(FailureKind::bad_json), "bad_json");
  EXPECT_EQ(to_string(FailureKind::empty), "empty");
  EXPECT_EQ(to_string(FailureKind::truncated), "truncated");
  EXPECT_EQ(to_string(FailureKind::invalid_output), "invalid_output");
  EXPECT_EQ(to_string(FailureKind::auth), "auth");
}

TEST(ParseRetryAfterTest, AcceptsSecondsDecimalsAndHttpDates) {
  // "Wed, 21 Oct 2015 07:28:00 GMT" is 1445412480 seconds after the epoch.
  const std::time_t now = 1445412480 - 90;
  EXPECT_EQ(parse_retry_after("3", now), 3.0);
  EXPECT_EQ(parse_retry_after(" 120 ", now), 120.0);
  EXPECT_EQ(parse_retry_after("1.5", now), 1.5);
  EXPECT_EQ(parse_retry_after("0", now), 0.0);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), 90.0);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 1000), 0.0);  // past
}

TEST(ParseRetryAfterTest, RejectsGarbage) {
  const std::time_t now = 1445412480;
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("1e3", now));
  EXPECT_FALSE(parse_retry_after("1.2.3", now));
  EXPECT_FALSE(parse_retry_after("inf", now));
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015", now));
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT trailing", now));
}

TEST(RetryDelayTest, FullJitterStaysWithinTheExponentialCeiling) {
  // Given a policy of base 0.5 s and cap 4 s, and no server hint
  RetryPolicy policy;
  policy.base_seconds = 0.5;
  policy.cap_seconds = 4;
  std::mt19937_64 rng(42);
  HttpResponse response = FakeTransport::status(503);
  const double ceilings[] = {0.5, 1, 2, 4, 4, 4};
  for (int retry = 1; retry <= 6; ++retry) {
    // When many delays are drawn for this retry
    double lowest = 1e9, highest = -1;
    for (int i = 0; i < 2000; ++i) {
      double delay = retry_delay(retry, policy, response, rng, 0);
      lowest = std::min(lowest, delay);
      highest = std::max(highest, delay);
    }
    // Then they stay in [0, ceiling] and spread over most of it
    double ceiling = ceilings[retry - 1];
    EXPECT_GE(lowest, 0.0) << "retry " << retry;
    EXPECT_LE(highest, ceiling) << "retry " << retry;
    EXPECT_LT(lowest, ceiling * 0.05) << "retry " << retry;
    EXPECT_GT(highest, ceiling * 0.95) << "retry " << retry;
  }
  EXPECT_LE(retry_delay(1000, policy, response, rng, 0), 4.0);
}

TEST(RetryDelayTest, ServerHintsWinAndAreCapped) {
  RetryPolicy policy;
  policy.max_retry_after_seconds = 60;
  std::mt19937_64 rng(1);
  const std::time_t now = 1445412480 - 30;

  // Given retry-after-ms and Retry-After, retry-after-ms wins
  HttpResponse both = FakeTransport::with_retry_after(429, "7");
  both.retry_after_ms = "250";
  EXPECT_DOUBLE_EQ(retry_delay(1, policy, both, rng, now), 0.25);

  // Given only Retry-After, in seconds or as a date, it is used
  EXPECT_DOUBLE_EQ(retry_delay(1, policy, FakeTransport::with_retry_after(429, "7"), rng, now),
                   7.0);
  EXPECT_DOUBLE_EQ(
      retry_delay(1, policy, FakeTransport::with_retry_after(429, "Wed, 21 Oct 2015 07:28:00 GMT"),
                  rng, now),
      30.0);

  // Given a hint beyond the cap, the cap is used
  EXPECT_DOUBLE_EQ(retry_delay(1, policy, FakeTransport::with_retry_after(429, "3600"), rng, now),
                   60.0);
  HttpResponse long_ms = FakeTransport::status(429);
  long_ms.retry_after_ms = "3600000";
  EXPECT_DOUBLE_EQ(retry_delay(1, policy, long_ms, rng, now), 60.0);

  // Given an unreadable hint, backoff applies
  double delay = retry_delay(1, policy, FakeTransport::with_retry_after(429, "later"), rng, now);
  EXPECT_GE(delay, 0.0);
  EXPECT_LE(delay, policy.base_seconds);
}

}  // namespace
}  // namespace personagen
