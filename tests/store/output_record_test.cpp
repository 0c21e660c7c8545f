#include "store/output_record.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace personagen {
namespace {

using nlohmann::json;

OutputRecord sample() {
  OutputRecord r;
  r.custom_id = "pg-1";
  r.persona = "a \"quoted\" nurse\n";
  r.persona_id = "p7";
  r.provenance = {"tool", "few-shot", "m", "tool/few-shot", 0xabc, {}};
  r.description = "tool development";
  r.prompt = "the prompt";
  r.output = "```json\n{\"type\":\"function\"}\n```";
  r.parsed = R"({"type":"function","function":{"name":"f"}})";
  r.parsed_is_tool = true;
  r.finish_reason = "stop";
  r.usage = {10, 5, 15};
  r.attempts = 2;
  return r;
}

TEST(OutputRecord, RecordFormatCarriesProvenanceAndIsLabelledSynthetic) {
  std::string out;
  format_record(OutputFormat::record, sample(), out);
  json j = json::parse(out);
  EXPECT_EQ(j["custom_id"], "pg-1");
  EXPECT_EQ(j["persona"], "a \"quoted\" nurse\n");
  EXPECT_EQ(j["persona_id"], "p7");
  EXPECT_EQ(j["template"]["id"], "tool/few-shot");
  EXPECT_EQ(j["template"]["hash"], "0000000000000abc");
  EXPECT_EQ(j["parsed"]["function"]["name"], "f");
  EXPECT_EQ(j["usage"]["total_tokens"], 15);
  EXPECT_EQ(j["attempts"], 2);
  EXPECT_EQ(j["synthetic"], true);
  EXPECT_EQ(out.find('\n'), std::string::npos);
}

TEST(OutputRecord, TextTaskHasNullParsedAndNoPersonaIdWhenAbsent) {
  OutputRecord r = sample();
  r.parsed = "";
  r.persona_id = "";
  std::string out;
  format_record(OutputFormat::record, r, out);
  json j = json::parse(out);
  EXPECT_TRUE(j["parsed"].is_null());
  EXPECT_FALSE(j.contains("persona_id"));
}

TEST(OutputRecord, PersonaHubToolEncodesTheToolAsAString) {
  // Persona Hub's tool.jsonl stores "synthesized text" as a JSON-encoded string of the object.
  std::string out;
  format_record(OutputFormat::personahub, sample(), out);
  json j = json::parse(out);
  EXPECT_EQ(j["input persona"], "a \"quoted\" nurse\n");
  EXPECT_EQ(j["description"], "tool development");
  json inner = json::parse(j["synthesized text"].get<std::string>());
  ASSERT_TRUE(inner.is_string());
  EXPECT_EQ(json::parse(inner.get<std::string>())["function"]["name"], "f");
}

TEST(OutputRecord, ChatFormatIsUserPromptThenAssistantOutput) {
  std::string out;
  format_record(OutputFormat::chat, sample(), out);
  json j = json::parse(out);
  ASSERT_EQ(j["messages"].size(), 2u);
  EXPECT_EQ(j["messages"][0]["role"], "user");
  EXPECT_EQ(j["messages"][0]["content"], "the prompt");
  EXPECT_EQ(j["messages"][1]["role"], "assistant");
  EXPECT_EQ(j["messages"][1]["content"], sample().output);
}

TEST(OutputRecord, PersonaRecordCarriesTheSameProvenanceAsARecord) {
  // Given a persona record made with the sample record's provenance, from no source
  PersonaRecord p;
  p.persona = "a ferry pilot";
  p.relation = "related";
  p.hop = 2;
  p.custom_id = "pg-1-0";
  p.input = "a \"quoted\" nurse\n";
  p.provenance = sample().provenance;
  p.finish_reason = "stop";
  p.usage = {10, 5, 15};
  p.attempts = 1;

  // When both are formatted
  std::string record_out, persona_out;
  format_record(OutputFormat::record, sample(), record_out);
  format_persona_record(p, persona_out);
  const json record = json::parse(record_out);
  const json persona = json::parse(persona_out);

  // Then the provenance and reply fields read the same, and the persona record is a valid input
  for (const char* key : {"task", "method", "model", "template", "finish_reason", "usage"}) {
    EXPECT_EQ(persona[key], record[key]) << key;
  }
  EXPECT_EQ(persona["template"]["hash"], "0000000000000abc");
  EXPECT_EQ(persona["persona"], "a ferry pilot");
  EXPECT_TRUE(persona["source"].is_null());
  EXPECT_EQ(persona["hop"], 2);
  EXPECT_EQ(persona["attempts"], 1);
  EXPECT_EQ(persona["synthetic"], true);
}

TEST(OutputRecord, FailureAndRejectAreJson) {
  FailureRecord f{"pg-2", 12, 1, "p", "", "math", "http_status", "HTTP 404: no", 404, 1};
  std::string out;
  format_failure(f, out);
  json j = json::parse(out);
  EXPECT_EQ(j["line"], 12);
  EXPECT_EQ(j["request"], 1);
  EXPECT_EQ(j["status"], 404);
  EXPECT_EQ(j["reason"], "HTTP 404: no");

  InputRecord reject;
  reject.line = 3;
  reject.offset = 40;
  reject.reject = "not valid JSON";
  reject.excerpt = "{oops";
  format_reject(reject, "in.jsonl", out);
  j = json::parse(out);
  EXPECT_EQ(j["file"], "in.jsonl");
  EXPECT_EQ(j["line"], 3);
  EXPECT_EQ(j["offset"], 40);
  EXPECT_EQ(j["excerpt"], "{oops");
}

TEST(OutputFormat, Names) {
  EXPECT_EQ(parse_output_format("chat"), OutputFormat::chat);
  EXPECT_FALSE(parse_output_format("csv"));
}

}  // namespace
}  // namespace personagen
