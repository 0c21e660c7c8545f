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
  r.provenance = {"tool", "few-shot", "m", "tool/few-shot", 0xabc};
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

TEST(OutputRecord, SummaryJson) {
  Totals t;
  t.records = 5;
  t.failed = 1;
  RunSummary s;
  s.status = "some_failed";
  s.exit_code = 3;
  s.output = "out";
  s.totals = &t;
  s.shards = 2;
  json j = json::parse(format_summary_json(s));
  EXPECT_EQ(j["status"], "some_failed");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["totals"]["records"], 5);
  EXPECT_FALSE(j.contains("this_run"));
}

TEST(OutputRecord, SummaryJsonOfAnExpansionListsEachHop) {
  // Given an expansion whose hop 1 ended with failures and whose hop 2 was fine,
  Totals hop1, hop2, all;
  hop1.records = 6;
  hop1.failed = 1;
  hop2.records = 18;
  all.records = 24;
  all.failed = 1;
  RunSummary hops[2];
  hops[0].status = "some_failed";
  hops[0].exit_code = 3;
  hops[0].output = "out/hop-1";
  hops[0].totals = &hop1;
  hops[0].shards = 1;
  hops[1].status = "ok";
  hops[1].output = "out/hop-2";
  hops[1].totals = &hop2;
  hops[1].shards = 1;
  RunSummary s;
  s.status = "some_failed";
  s.exit_code = 3;
  s.output = "out";
  s.totals = &all;
  s.shards = 2;
  s.hops = hops;
  s.failed_hop = 1;
  // when the summary is formatted,
  json j = json::parse(format_summary_json(s));
  // then the whole comes first, with the hop that failed, then each hop numbered in order.
  EXPECT_EQ(j["status"], "some_failed");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["output"], "out");
  EXPECT_EQ(j["totals"]["records"], 24);
  EXPECT_EQ(j["failed_hop"], 1);
  ASSERT_EQ(j["hops"].size(), 2u);
  EXPECT_EQ(j["hops"][0]["hop"], 1);
  EXPECT_EQ(j["hops"][0]["status"], "some_failed");
  EXPECT_EQ(j["hops"][0]["output"], "out/hop-1");
  EXPECT_EQ(j["hops"][0]["totals"]["failed"], 1);
  EXPECT_EQ(j["hops"][1]["hop"], 2);
  EXPECT_EQ(j["hops"][1]["status"], "ok");
  EXPECT_EQ(j["hops"][1]["totals"]["records"], 18);
  EXPECT_FALSE(j["hops"][1].contains("message"));
}

TEST(OutputRecord, SummaryJsonOfASingleRunHasNoHops) {
  // Given a single run, when its summary is formatted, then it has neither hops nor failed_hop.
  RunSummary s;
  s.status = "ok";
  s.output = "out";
  json j = json::parse(format_summary_json(s));
  EXPECT_FALSE(j.contains("hops"));
  EXPECT_FALSE(j.contains("failed_hop"));
  EXPECT_FALSE(j.contains("message"));
}

TEST(OutputRecord, SummaryJsonNeverShowsTheSecret) {
  // Given an error message that echoes the API key twice, in the run and in its hop,
  std::string message = "HTTP 401: key sk-live-123 refused; sk-live-123 is revoked";
  RunSummary hop;
  hop.status = "error";
  hop.message = message;
  RunSummary s;
  s.status = "error";
  s.exit_code = 1;
  s.message = message;
  s.hops = std::span<const RunSummary>(&hop, 1);
  s.failed_hop = 1;
  s.secret = "sk-live-123";
  // when the summary is formatted,
  std::string text = format_summary_json(s);
  // then the key is nowhere in it, and the rest of the message is.
  EXPECT_EQ(text.find("sk-live-123"), std::string::npos) << text;
  json j = json::parse(text);
  EXPECT_EQ(j["message"], "HTTP 401: key *** refused; *** is revoked");
  EXPECT_EQ(j["hops"][0]["message"], "HTTP 401: key *** refused; *** is revoked");
}

TEST(OutputFormat, Names) {
  EXPECT_EQ(parse_output_format("chat"), OutputFormat::chat);
  EXPECT_FALSE(parse_output_format("csv"));
}

}  // namespace
}  // namespace personagen
