#include "net/batch_results.h"

#include <gtest/gtest.h>

#include "net/openai_client.h"
#include "net/retry_policy.h"
#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

constexpr const char* kCompletion =
    R"({"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})";

std::string ok_line(const std::string& id) {
  return std::string(R"({"id":"b","custom_id":")") + id +
         R"(","response":{"status_code":200,"request_id":"r","body":)" + kCompletion +
         R"(},"error":null})";
}

std::string expired_line(const std::string& id) {
  return std::string(R"({"id":"b","custom_id":")") + id +
         R"(","response":null,"error":{"code":"batch_expired","message":"too late"}})";
}

TEST(BatchResult, ASuccessIsItsStatusAndBody) {
  BatchResult r = parse_batch_result(ok_line("pg-1"), "f:1");
  EXPECT_EQ(r.custom_id, "pg-1");
  EXPECT_EQ(r.response.status, 200);
  EXPECT_EQ(r.response.error, TransportError::none);
  std::string error;
  ASSERT_TRUE(parse_completion(r.response.body, error).has_value()) << error;
}

TEST(BatchResult, AnHttpErrorKeepsItsStatusAndMessage) {
  // OpenAI's error file: a non-2xx status with the error object as the body
  BatchResult openai = parse_batch_result(
      R"({"custom_id":"a","response":{"status_code":500,"request_id":"r","body":{"error":{"message":"boom"}}},"error":null})",
      "f:1");
  EXPECT_EQ(openai.response.status, 500);
  EXPECT_EQ(error_message(openai.response.body), "boom");
  // vLLM: "body": null, the ErrorResponse or a plain string beside it
  BatchResult vllm = parse_batch_result(
      R"({"custom_id":"b","response":{"status_code":400,"request_id":"r","body":null},"error":{"error":{"message":"too long","code":400}}})",
      "f:2");
  EXPECT_EQ(vllm.response.status, 400);
  EXPECT_EQ(error_message(vllm.response.body), "too long");
  BatchResult text = parse_batch_result(
      R"({"custom_id":"c","response":{"status_code":400,"request_id":"r"},"error":"stream mode"})",
      "f:3");
  EXPECT_EQ(error_message(text.response.body), "stream mode");
  BatchResult old_vllm = parse_batch_result(
      R"({"custom_id":"d","response":{"status_code":404,"request_id":"r","body":null},"error":{"object":"error","message":"no such model","code":404}})",
      "f:4");
  EXPECT_EQ(error_message(old_vllm.response.body), "no such model");
}

TEST(BatchResult, ARequestNeverRunIsNotRun) {
  BatchResult r = parse_batch_result(expired_line("pg-2"), "f:1");
  EXPECT_EQ(r.response.error, TransportError::not_run);
  EXPECT_NE(r.response.error_text.find("batch_expired: too late"), std::string::npos);
  Verdict v = classify_http(r.response);
  EXPECT_EQ(v.action, Verdict::Action::fail);
  EXPECT_EQ(v.kind, FailureKind::not_run);
}

TEST(BatchResult, ALineThatIsNoResultIsAnErrorNamingWhere) {
  for (const char* line : {"not json", R"({"response":null,"error":{"code":"x"}})",
                           R"({"custom_id":"a"})", R"({"custom_id":"a","response":7})",
                           R"({"custom_id":"a","response":{"status_code":"x"}})"}) {
    try {
      parse_batch_result(line, "results.jsonl:9");
      ADD_FAILURE() << line;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("results.jsonl:9: ", 0), 0u) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

class BatchResultsTest : public TempDirTest {};

TEST_F(BatchResultsTest, FindsEachResultByCustomIdAndASuccessWinsOverAFailure) {
  // Given an error file with an expired request, and an output file where it later succeeded
  write_file(path("errors.jsonl"), expired_line("pg-a") + "\n" + expired_line("pg-b") + "\n");
  write_file(path("output.jsonl"), "\n" + ok_line("pg-c") + "\r\n" + ok_line("pg-a"));
  BatchResults results({path("errors.jsonl"), path("output.jsonl")});
  // Then each custom_id has one result, the success where there is one
  EXPECT_EQ(results.size(), 3u);
  EXPECT_EQ(results.find("pg-a")->status, 200);
  EXPECT_EQ(results.find("pg-b")->error, TransportError::not_run);
  EXPECT_EQ(results.find("pg-c")->status, 200);
  EXPECT_FALSE(results.find("pg-z").has_value());
}

TEST_F(BatchResultsTest, NamesTheFirstResultThatIsNoRequestOfTheExport) {
  write_file(path("r.jsonl"), ok_line("pg-a") + "\n\n" + ok_line("pg-x") + "\n" + ok_line("pg-b"));
  BatchResults results({path("r.jsonl")});
  results.mark_known("pg-a");
  results.mark_known("pg-b");
  EXPECT_EQ(results.first_unknown(),
            path("r.jsonl") + ":3: custom_id \"pg-x\" is not a request of this export");
  results.mark_known("pg-x");
  EXPECT_EQ(results.first_unknown(), "");
}

TEST_F(BatchResultsTest, TheTransportAnswersAtOnceAndARequestWithoutResultIsNotRun) {
  write_file(path("r.jsonl"), ok_line("pg-a") + "\n");
  BatchResults results({path("r.jsonl")});
  ResultsTransport transport(results);
  transport.start(HttpRequest{1, "{}", "pg-a"});
  transport.start(HttpRequest{2, "{}", "pg-missing"});
  EXPECT_EQ(transport.in_flight(), 2u);
  std::vector<HttpResponse> finished;
  transport.wait(0, finished);
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_EQ(finished[0].tag, 1u);
  EXPECT_EQ(finished[0].status, 200);
  EXPECT_EQ(finished[1].tag, 2u);
  EXPECT_EQ(finished[1].error, TransportError::not_run);
  EXPECT_EQ(transport.in_flight(), 0u);
}

TEST_F(BatchResultsTest, AMissingFileIsAnErrorNamingIt) {
  EXPECT_THROW(BatchResults({path("nope.jsonl")}), Error);
}

}  // namespace
}  // namespace personagen
