#include "net/openai_client.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "util/json_text.h"

namespace personagen {
namespace {

using nlohmann::json;

TEST(OpenAiClientTest, UrlJoinToleratesTrailingSlashes) {
  // Given base URLs with and without a trailing slash
  // Then the endpoint path is appended exactly once
  EXPECT_EQ(chat_completions_url("http://127.0.0.1:8000/v1"),
            "http://127.0.0.1:8000/v1/chat/completions");
  EXPECT_EQ(chat_completions_url("http://127.0.0.1:8000/v1/"),
            "http://127.0.0.1:8000/v1/chat/completions");
  EXPECT_EQ(chat_completions_url("https://api.openai.com/v1//"),
            "https://api.openai.com/v1/chat/completions");
}

TEST(OpenAiClientTest, BodyHasModelAndOneUserMessage) {
  // Given no sampling parameters
  // When a body is built
  const std::string body = build_chat_body("gpt-4o-mini", "Write a math problem.", {});

  // Then it is exactly the model and one user message, nothing else
  EXPECT_EQ(
      body,
      R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Write a math problem."}]})");
  const json parsed = json::parse(body);
  EXPECT_FALSE(parsed.contains("temperature"));
  EXPECT_FALSE(parsed.contains("top_p"));
  EXPECT_FALSE(parsed.contains("max_tokens"));
}

TEST(OpenAiClientTest, BodyEscapesEveryAwkwardCharacter) {
  // Given a message with quotes, backslashes, line breaks, control characters and non-ASCII text
  const std::string message = std::string("say \"hi\" \\ to\nthe\tnurse\r\b\f") + '\x01' + '\x1f' +
                              "\x7f — café 日本 🙂 " + std::string(1, '\0') + "end";

  // When a body is built
  const std::string body = build_chat_body("m\"odel", message, {});

  // Then a JSON parser reads back the same strings, and the escapes are the short ones
  const json parsed = json::parse(body);
  EXPECT_EQ(parsed["model"], "m\"odel");
  EXPECT_EQ(parsed["messages"][0]["role"], "user");
  EXPECT_EQ(parsed["messages"][0]["content"], message);
  EXPECT_NE(body.find(R"(\"hi\" \\ to\nthe\tnurse\r\b\f\u0001\u001f)"), std::string::npos) << body;
  EXPECT_NE(body.find("café 日本 🙂"), std::string::npos) << "UTF-8 passes through unescaped";
  EXPECT_NE(body.find(R"(\u0000end)"), std::string::npos);
}

TEST(OpenAiClientTest, BodyCarriesSamplingParamsWhenSet) {
  // Given all sampling parameters set
  SamplingParams sampling;
  sampling.temperature = 0.7;
  sampling.top_p = 0.95;
  sampling.max_tokens = 1024;

  // When a body is built
  const std::string body = build_chat_body("m", "x", sampling);

  // Then they are present, printed in their shortest round-trip form
  EXPECT_NE(body.find(R"("temperature":0.7,)"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("top_p":0.95,)"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("max_tokens":1024})"), std::string::npos) << body;
  const json parsed = json::parse(body);
  EXPECT_EQ(parsed["temperature"].get<double>(), 0.7);
  EXPECT_EQ(parsed["max_tokens"].get<int64_t>(), 1024);
}

TEST(OpenAiClientTest, BodyCarriesTheResponseFormatAsItIs) {
  // Given a response_format with the extras
  SamplingParams sampling;
  sampling.max_tokens = 600;
  RequestExtras extras{"Be brief.", R"("seed":7)", R"({"type":"json_object"})"};

  // When a body is built, for one message or a conversation
  const std::string body = build_chat_body("m", "x", sampling, extras);
  const ChatMessage turns[] = {{"user", "a"}, {"assistant", "b"}, {"user", "c"}};
  const std::string conversation = build_chat_body("m", turns, sampling, extras);

  // Then it follows the sampling parameters and comes before the extra fields, verbatim
  EXPECT_NE(body.find(R"("max_tokens":600,"response_format":{"type":"json_object"},"seed":7})"),
            std::string::npos)
      << body;
  EXPECT_EQ(json::parse(conversation)["response_format"]["type"], "json_object");
  // And without one, the body is what it was
  extras.response_format.clear();
  EXPECT_EQ(json::parse(build_chat_body("m", "x", sampling, extras)).contains("response_format"),
            false);
}

TEST(OpenAiClientTest, BodyNumbersRoundTrip) {
  // Given awkward numbers
  SamplingParams sampling;
  sampling.temperature = 1.0;
  sampling.top_p = 0.1 + 0.2;  // 0.30000000000000004

  // When a body is built with only some set
  const std::string body = build_chat_body("m", "x", sampling);

  // Then whole numbers stay short and every value reads back exactly
  EXPECT_NE(body.find(R"("temperature":1,)"), std::string::npos) << body;
  const json parsed = json::parse(body);
  EXPECT_EQ(parsed["top_p"].get<double>(), 0.1 + 0.2);
  EXPECT_FALSE(parsed.contains("max_tokens"));
}

TEST(OpenAiClientTest, JsonStringEscapesEveryByteThatNeedsItAtEveryPosition) {
  // How many bytes JSON writes for one ASCII byte: \uXXXX, a two-byte escape, or itself.
  const auto written_size = [](int byte) -> size_t {
    if (byte == '\b' || byte == '\f' || byte == '\n' || byte == '\r' || byte == '\t') return 2;
    if (byte < 0x20) return 6;
    return byte == '"' || byte == '\\' ? 2 : 1;
  };
  const std::string e_acute = "\xC3\xA9";
  for (size_t at = 0; at < 19; ++at) {
    for (int byte = 0; byte < 0x80; ++byte) {
      // Given plain text with one ASCII byte at each position, inside and across the eight-byte
      // words the fast scan reads
      std::string text(19, 'x');
      text[at] = static_cast<char>(byte);

      // When it is written as a JSON string
      std::string out;
      append_json_string(out, text);

      // Then it reads back as the same text, escaped only where JSON requires it
      ASSERT_EQ(json::parse(out).get<std::string>(), text) << byte << " at " << at;
      ASSERT_EQ(out.size(), 2 + 18 + written_size(byte)) << byte << " at " << at;
    }

    // And a two-byte UTF-8 character there passes through unchanged
    const std::string text = std::string(at, 'x') + e_acute + std::string(18 - at, 'x');
    std::string out;
    append_json_string(out, text);
    EXPECT_EQ(out, '"' + text + '"') << "at " << at;
  }
}

TEST(OpenAiClientTest, JsonStringReplacesInvalidUtf8) {
  // Given bytes that are not UTF-8: a lone continuation byte, a truncated sequence, an overlong
  // slash and a surrogate
  std::string out;
  append_json_string(out, "a\x80z \xE6\x97 \xC0\xAF \xED\xA0\x80!");

  // Then each bad byte becomes U+FFFD and the result parses
  EXPECT_EQ(json::parse(out).get<std::string>(),
            "a\uFFFDz \uFFFD\uFFFD \uFFFD\uFFFD \uFFFD\uFFFD\uFFFD!");
}

TEST(OpenAiClientTest, ParsesAnOpenAiReply) {
  // Given a reply as api.openai.com sends it
  const std::string body = R"({
    "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1717000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Solve: x^2 = 4.",
                 "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49,
              "prompt_tokens_details": {"cached_tokens": 0}},
    "system_fingerprint": "fp_1"})";

  // When it is parsed
  std::string error;
  const auto completion = parse_completion(body, error);

  // Then content, finish reason and usage come out as native values
  ASSERT_TRUE(completion) << error;
  EXPECT_EQ(completion->content, "Solve: x^2 = 4.");
  EXPECT_EQ(completion->finish_reason, "stop");
  EXPECT_EQ(completion->usage.prompt_tokens, 42);
  EXPECT_EQ(completion->usage.completion_tokens, 7);
  EXPECT_EQ(completion->usage.total_tokens, 49);
}

TEST(OpenAiClientTest, ParsesAVllmReply) {
  // Given a vLLM reply: extra fields, a stop_reason, and a cut-off completion
  const std::string body =
      R"({"id":"cmpl-1","object":"chat.completion","created":1,"model":"Qwen/Qwen2-7B",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"Once upon",)"
      R"("tool_calls":[],"reasoning_content":null},"logprobs":null,"finish_reason":"length",)"
      R"("stop_reason":null}],"usage":{"prompt_tokens":10,"total_tokens":12,)"
      R"("completion_tokens":2,"prompt_tokens_details":null},"prompt_logprobs":null})";

  // When it is parsed
  std::string error;
  const auto completion = parse_completion(body, error);

  // Then the cut-off shows in finish_reason
  ASSERT_TRUE(completion) << error;
  EXPECT_EQ(completion->content, "Once upon");
  EXPECT_EQ(completion->finish_reason, "length");
  EXPECT_EQ(completion->usage.total_tokens, 12);
}

TEST(OpenAiClientTest, EscapesAreDecodedAndOddUsageCountsAreClampedOrZero) {
  // Given content with escapes, and usage counts that are huge, fractional or not numbers
  const std::string body =
      R"({"choices":[{"message":{"content":"caf\u00e9\n\"q\" \ud83d\ude00"}}],)"
      R"("usage":{"prompt_tokens":18446744073709551615,"completion_tokens":1.5,)"
      R"("total_tokens":"9"}})";

  // When it is parsed
  std::string error;
  const auto completion = parse_completion(body, error);

  // Then the content is decoded, a count beyond int64 is clamped, and the others read as 0
  ASSERT_TRUE(completion) << error;
  EXPECT_EQ(completion->content, "caf\u00e9\n\"q\" \U0001F600");
  EXPECT_EQ(completion->usage.prompt_tokens, INT64_MAX);
  EXPECT_EQ(completion->usage.completion_tokens, 0);
  EXPECT_EQ(completion->usage.total_tokens, 0);
}

TEST(OpenAiClientTest, NullContentAndMissingUsageAreEmpty) {
  // Given a reply with null content, null finish_reason and no usage
  const std::string body =
      R"({"choices":[{"message":{"role":"assistant","content":null},"finish_reason":null}]})";

  // When it is parsed
  std::string error;
  const auto completion = parse_completion(body, error);

  // Then content and finish_reason are empty and usage is zero
  ASSERT_TRUE(completion) << error;
  EXPECT_EQ(completion->content, "");
  EXPECT_EQ(completion->finish_reason, "");
  EXPECT_EQ(completion->usage.prompt_tokens, 0);
  EXPECT_EQ(completion->usage.completion_tokens, 0);
  EXPECT_EQ(completion->usage.total_tokens, 0);
}

TEST(OpenAiClientTest, MalformedRepliesAreErrorsNotExceptions) {
  struct Case {
    std::string body;
    std::string error_prefix;
  };
  const Case cases[] = {
      {"<html>502 Bad Gateway</html>", "reply is not JSON: "},
      {R"({"choices":[{"message":{"content":"trunc)", "reply is not JSON: "},
      {"", "reply is not JSON: "},
      {"[]", "reply has no choices"},
      {R"({"choices":[]})", "reply has no choices"},
      {R"({"choices":{"0":1}})", "reply has no choices"},
      {R"({"choices":[{"text":"legacy"}]})", "reply has no message"},
      {R"({"choices":[7]})", "reply has no message"},
      {R"({"choices":[{"message":{"content":["a","b"]}}]})", "content is not a string"},
      {R"({"choices":[{"message":{"content":42}}]})", "content is not a string"},
      {"{\"choices\":[{\"message\":{\"content\":\"\xff\"}}]}", "reply is not JSON: "},
      {R"({"choices":[{"message":{"content":"a"}}]} trailing)", "reply is not JSON: "},
  };
  for (const Case& c : cases) {
    // Given a malformed reply
    // When it is parsed
    std::string error;
    std::optional<Completion> completion;
    EXPECT_NO_THROW(completion = parse_completion(c.body, error)) << c.body;

    // Then there is no completion, and a one-line error says why
    EXPECT_FALSE(completion) << c.body;
    EXPECT_TRUE(error.starts_with(c.error_prefix)) << c.body << " -> " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

TEST(OpenAiClientTest, ReplyThatIsNotJsonIsQuotedInTheError) {
  // Given a proxy's HTML page where a completion was expected
  const std::string body =
      "<html>\n<head><title>502 Bad Gateway</title></head>" + std::string(200, 'x');

  // When it is parsed
  std::string error;
  EXPECT_FALSE(parse_completion(body, error));

  // Then the error says what was wrong and quotes the start of the body on one line
  EXPECT_TRUE(error.starts_with("reply is not JSON: ")) << error;
  const size_t quote = error.find("; it starts: <html> <head><title>502 Bad Gateway");
  ASSERT_NE(quote, std::string::npos) << error;
  EXPECT_EQ(error.size() - quote, std::string_view("; it starts: ").size() + 80) << error;
}

TEST(OpenAiClientTest, ErrorBodyWithStatus200NamesTheError) {
  // Given an error object where a completion was expected
  const std::string body = R"({"error":{"message":"model overloaded","type":"server_error"}})";

  // When it is parsed
  std::string error;
  EXPECT_FALSE(parse_completion(body, error));

  // Then the error carries the server's message
  EXPECT_EQ(error, "reply has no choices: model overloaded");
}

TEST(OpenAiClientTest, ErrorMessageOfKnownShapes) {
  // Given error bodies as OpenAI, vLLM, FastAPI and plain servers send them
  // Then the human message is taken from each
  EXPECT_EQ(error_message(R"({"error":{"message":"Incorrect API key provided.",)"
                          R"("type":"invalid_request_error","code":"invalid_api_key"}})"),
            "Incorrect API key provided.");
  EXPECT_EQ(error_message(R"({"object":"error","message":"max_tokens is too large",)"
                          R"("type":"BadRequestError","code":400})"),
            "max_tokens is too large");
  EXPECT_EQ(error_message(R"({"error":"rate limited"})"), "rate limited");
  EXPECT_EQ(error_message(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(error_message(R"({"detail":[{"loc":["body","model"],"msg":"field required"}]})"),
            R"([{"loc":["body","model"],"msg":"field required"}])");
  EXPECT_EQ(error_message("upstream connect error\r\nor disconnect\n"),
            "upstream connect error  or disconnect");
  EXPECT_EQ(error_message(R"({"unexpected":true})"), R"({"unexpected":true})");
  EXPECT_EQ(error_message(""), "(empty body)");
}

TEST(OpenAiClientTest, ErrorMessageIsOneLine) {
  // Given a message with line breaks
  const std::string message = error_message(R"({"error":{"message":"line one\nline two"}})");

  // Then they become spaces
  EXPECT_EQ(message, "line one line two");
}

TEST(OpenAiClientTest, ErrorMessageIsCutAt300BytesOnAUtf8Boundary) {
  // Given a long body of 3-byte characters after one ASCII byte, so byte 300 falls mid-character
  std::string body = "x";
  for (int i = 0; i < 200; ++i) body += "日";

  // When its message is taken
  const std::string message = error_message(body);

  // Then it is at most 300 bytes and ends on a whole character
  EXPECT_LE(message.size(), 300u);
  EXPECT_EQ(message.size(), 298u);  // "x" + 99 characters of 3 bytes
  EXPECT_EQ(message.substr(message.size() - 3), "日");

  // And a long JSON message is cut the same way
  const std::string long_json = R"({"error":{"message":")" + std::string(500, 'a') + "\"}}";
  EXPECT_EQ(error_message(long_json), std::string(300, 'a'));
}

TEST(OpenAiClientTest, NestingDepthCountsBracketsOutsideStrings) {
  EXPECT_EQ(json_nesting_depth(""), 0u);
  EXPECT_EQ(json_nesting_depth("42"), 0u);
  EXPECT_EQ(json_nesting_depth(R"({"a":[1,{"b":[]}],"c":{}})"), 4u);
  // Brackets inside strings, escaped quotes included, do not count.
  EXPECT_EQ(json_nesting_depth(R"({"a":"[[{\"[[","b":"\\"})"), 1u);
  EXPECT_EQ(json_nesting_depth("]]]]{"), 1u);
}

TEST(OpenAiClientTest, DeeplyNestedBodiesAreReadWithoutOverflowingTheStack) {
  // Given bodies nested a million levels deep, which a recursive dump() cannot survive
  const size_t depth = 1000000;
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  const std::string error_body = R"({"detail":)" + nested + "}";
  const std::string reply = R"({"choices":[{"message":{"content":"hi"}}],"extra":)" + nested + "}";

  // When their message is taken, or they are parsed as a reply
  const std::string message = error_message(error_body);
  std::string error;
  const std::optional<Completion> completion = parse_completion(reply, error);

  // Then the message is the start of the body, and the reply is an error, not a crash
  EXPECT_EQ(message.substr(0, 12), R"({"detail":[[)");
  EXPECT_LE(message.size(), 300u);
  EXPECT_FALSE(completion.has_value());
  EXPECT_TRUE(error.starts_with("reply is not JSON: ")) << error;
  EXPECT_NE(error.find("too deep"), std::string::npos) << error;

  // And a detail nested a few levels still reads as JSON
  EXPECT_EQ(error_message(R"({"detail":[[["too short"]]]})"), R"([[["too short"]]])");
}

}  // namespace
}  // namespace personagen
