// What the reader makes of a line's JSON: a record with the persona, id and asked-for fields, or
// a reject that says why.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "input/record_reader.h"
#include "input/record_reader_fixture.h"

namespace personagen {
namespace {

TEST_F(RecordReaderTest, BadLinesAreRejectsWithReasonLineAndExcerpt) {
  // Given one bad line of each kind, then a good one
  const std::string text =
      "{\"persona\": \"ok\"\n"             // 1: cut-off JSON
      "[\"persona\", \"x\"]\n"             // 2: not an object
      "{\"name\": \"x\"}\n"                // 3: no persona field
      "{\"persona\": 42}\n"                // 4: not a string
      "{\"persona\": \"  \\t \"}\n"        // 5: empty
      "{\"persona\": \"caf\xE9 \xFF\"}\n"  // 6: Latin-1, not UTF-8
      "\"just a string\"\n"                // 7: not an object
      "{\"persona\": \"fine\"}\n";
  // When it is read
  auto records = read_file("bad.jsonl", text);
  // Then every bad line is a reject that says why, and the good line still comes through
  ASSERT_EQ(records.size(), 8u);
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_FALSE(records[i].ok()) << i;
    EXPECT_EQ(records[i].line, i + 1);
  }
  EXPECT_EQ(records[0].reject.rfind("not valid JSON: ", 0), 0u) << records[0].reject;
  EXPECT_EQ(records[0].excerpt, "{\"persona\": \"ok\"");
  EXPECT_EQ(records[1].reject, "not a JSON object (an array)");
  EXPECT_EQ(records[2].reject, "missing field \"persona\" or \"input persona\"");
  EXPECT_EQ(records[3].reject, "field \"persona\" is not a string but a number");
  EXPECT_EQ(records[4].reject, "field \"persona\" is empty");
  EXPECT_NE(records[5].reject.find("invalid UTF-8"), std::string::npos) << records[5].reject;
  EXPECT_EQ(records[5].excerpt, "{\"persona\": \"caf\xEF\xBF\xBD \xEF\xBF\xBD\"}");
  EXPECT_EQ(records[5].offset, text.find("{\"persona\": \"caf"));
  EXPECT_EQ(records[6].reject, "not a JSON object (a string)");
  EXPECT_TRUE(records[7].ok());
  EXPECT_EQ(records[7].line, 8u);
}

TEST_F(RecordReaderTest, EscapesAndUnusualJsonGiveTheSameRecordsAsPlainLines) {
  // Given lines that need full JSON parsing (escapes, floats, nesting, odd spacing)
  const std::string text =
      "{\"persona\": \"a \\\"quoted\\\" caf\\u00e9 nurse\\n\", \"id\": -0}\n"
      " {\"n\": 1.5e3, \"a\": [1, {\"persona\": \"nested\"}], \"persona\": \"\xF0\x9F\x98\x80\"} \n"
      "{\"persona\": \"first\", \"persona\": \"last\", \"id\": 123456789012345678901}\n"
      "{}\n";
  // When it is read
  auto records = read_file("escapes.jsonl", text);
  // Then values are unescaped, only top-level fields count, and the last duplicate wins
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].persona, "a \"quoted\" caf\xC3\xA9 nurse\n");
  EXPECT_EQ(records[0].id, "0");
  EXPECT_EQ(records[1].persona, "\xF0\x9F\x98\x80");
  EXPECT_EQ(records[2].persona, "last");
  EXPECT_EQ(records[2].id, "");  // too large for an integer, so it is a float
  EXPECT_EQ(records[3].reject, "missing field \"persona\" or \"input persona\"");
}

TEST_F(RecordReaderTest, SimpleEscapesAreDecodedOnTheFastPathAsNlohmannWould) {
  // Given records as synth writes them, whose outputs hold \n, \" and \\, escaped keys, and a
  // value with every simple escape next to one with a \u escape (the slow path)
  const std::string text =
      "{\"custom_id\": \"pg-1\", \"output\": \"Math problem:\\nA \\\"big\\\" one \\\\ here\\n\"}\n"
      "{\"out\\u0070ut\": \"slow \\u00e9\", \"id\": \"\\/x\\by\\fz\\rw\\tv\"}\n"
      "{\"o\\\"k\": \"x\", \"output\": \"\\\\\\\"\\n\"}\n";
  ReaderOptions options;
  options.persona_fields = {"output"};
  options.optional_fields = {"custom_id"};
  // When it is read
  auto records = read_file("escapes.jsonl", text, options);
  // Then the values are decoded exactly
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].persona, "Math problem:\nA \"big\" one \\ here\n");
  ASSERT_EQ(records[0].fields.size(), 1u);
  EXPECT_EQ(records[0].fields[0].second, "pg-1");
  EXPECT_EQ(records[1].persona, "slow \xC3\xA9");
  EXPECT_EQ(records[1].id, "/x\by\fz\rw\tv");
  EXPECT_EQ(records[2].persona, "\\\"\n");
}

TEST_F(RecordReaderTest, NearlyValidLinesAreRejected) {
  // Given lines that are almost JSON objects
  const std::vector<std::string> lines = {"{\"persona\": \"a\", \"id\": 01}",
                                          "{\"persona\": \"a\"} x",
                                          "{\"persona\": truex}",
                                          "{\"persona\": \"a\",}",
                                          "{\"persona\": \"a\"}}",
                                          "{\"persona\": \"a\x01\"}",
                                          "{\"persona\": \"a\\q\"}",
                                          "{\"persona\": \"a\xED\xA0\x80\"}",
                                          "{\"persona\": -}",
                                          "{\"persona\" \"a\"}",
                                          "{",
                                          "{\"persona\": \"a\""};
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  // When they are read
  auto records = read_file("nearly.jsonl", text);
  // Then each is a reject for invalid JSON
  ASSERT_EQ(records.size(), lines.size());
  for (const InputRecord& record : records) {
    EXPECT_EQ(record.reject.rfind("not valid JSON: ", 0), 0u)
        << record.line << ": " << record.reject;
  }
}

TEST_F(RecordReaderTest, ExcerptIsShortAndValidUtf8) {
  // Given a long invalid line of multi-byte characters
  std::string line = "{";
  for (int i = 0; i < 300; ++i) line += "\xC3\xA9";  // é
  // When it is read
  auto records = read_file("p.jsonl", line + "\n");
  // Then the excerpt stops at about 200 bytes, on a character boundary
  ASSERT_EQ(records.size(), 1u);
  EXPECT_FALSE(records[0].ok());
  EXPECT_EQ(records[0].excerpt, "{" + line.substr(1, 198));
}

TEST_F(RecordReaderTest, PersonaFieldIsTheFirstPresentOfTheList) {
  // Given Persona Hub synthesized lines and Nemotron-style lines with several persona columns
  const std::string text =
      "{\"input persona\": \"hub\", \"synthesized text\": \"...\"}\n"
      "{\"professional_persona\": \"pro\", \"persona\": \"general\"}\n"
      "{\"persona\": \"general only\"}\n";
  // When read with the default list, and with a custom list
  auto defaults = read_file("a.jsonl", text);
  ReaderOptions custom;
  custom.persona_fields = {"professional_persona", "persona"};
  auto chosen = read_file("b.jsonl", text, custom);
  // Then the fallback and the order of the list decide
  ASSERT_EQ(defaults.size(), 3u);
  EXPECT_EQ(defaults[0].persona, "hub");
  EXPECT_EQ(defaults[1].persona, "general");
  ASSERT_EQ(chosen.size(), 3u);
  EXPECT_EQ(chosen[0].reject, "missing field \"professional_persona\" or \"persona\"");
  EXPECT_EQ(chosen[1].persona, "pro");
  EXPECT_EQ(chosen[2].persona, "general only");
}

TEST_F(RecordReaderTest, IdComesFromIdElseUuid) {
  // Given FinePersonas ids, Nemotron uuids, integer ids and unusable ids
  const std::string text =
      "{\"id\": \"fp-1\", \"persona\": \"a\", \"uuid\": \"u-0\"}\n"
      "{\"uuid\": \"5f0c\", \"persona\": \"b\"}\n"
      "{\"id\": 123456789012, \"persona\": \"c\"}\n"
      "{\"id\": 1.5, \"persona\": \"d\", \"uuid\": \"u-4\"}\n"
      "{\"id\": {\"x\": 1}, \"persona\": \"e\"}\n";
  // When it is read
  auto records = read_file("ids.jsonl", text);
  // Then "id" wins, "uuid" is the fallback, integers become text, other types are ignored
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].id, "fp-1");
  EXPECT_EQ(records[1].id, "5f0c");
  EXPECT_EQ(records[2].id, "123456789012");
  EXPECT_EQ(records[3].id, "u-4");
  EXPECT_EQ(records[4].id, "");
  EXPECT_TRUE(records[4].ok());
}

TEST_F(RecordReaderTest, ExtraFieldsAreCopiedInTheOrderAsked) {
  // Given lines with domain fields of several types, nested values and some missing
  const std::string text =
      "{\"persona\": \"a\", \"labels\": [\"x\"], \"domain\": \"math\", \"level\": 3,"
      " \"score\": 0.50, \"elite\": true, \"meta\": {\"domain\": \"nested\"}}\n"
      "{\"persona\": \"b\", \"domain\": \"bio\"}\n"
      "{\"persona\": \"c\", \"domain\": null, \"level\": 1, \"score\": 1, \"elite\": false}\n"
      "{\"persona\": \"d\", \"domain\": [], \"level\": 1, \"score\": 1, \"elite\": false}\n";
  ReaderOptions options;
  options.extra_fields = {"elite", "domain", "level", "score"};
  // When it is read
  auto records = read_file("extra.jsonl", text, options);
  // Then strings are copied as is, other scalars as JSON text, and a missing or unusable field is
  // a reject
  ASSERT_EQ(records.size(), 4u);
  ASSERT_TRUE(records[0].ok()) << records[0].reject;
  using Fields = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(records[0].fields,
            (Fields{{"elite", "true"}, {"domain", "math"}, {"level", "3"}, {"score", "0.50"}}));
  EXPECT_EQ(records[1].reject, "missing field \"elite\"");
  EXPECT_EQ(records[2].reject, "field \"domain\" is not a string, number or boolean but null");
  EXPECT_EQ(records[3].reject, "field \"domain\" is not a string, number or boolean but an array");
  EXPECT_TRUE(records[1].fields.empty());
}

TEST_F(RecordReaderTest, OptionalFieldsAreCopiedWhenPresentAndNeverReject) {
  // Given lines where the optional fields are scalars, missing, null, nested or escaped, in
  // both the fast-path shape and one that needs the full parser
  const std::string text =
      "{\"persona\": \"a\", \"level\": 3, \"domain\": \"math\", \"elite\": true}\n"
      "{\"persona\": \"b\"}\n"
      "{\"persona\": \"c\", \"domain\": null, \"level\": 1.50}\n"
      "{\"persona\": \"d\", \"domain\": [\"x\"], \"level\": {\"n\": 1}, \"elite\": false}\n"
      "{\"persona\": \"e\", \"domain\": \"bio\\u00e9\", \"meta\": {\"domain\": \"nested\"}}\n";
  ReaderOptions options;
  options.optional_fields = {"domain", "level", "elite"};
  // When it is read
  auto records = read_file("optional.jsonl", text, options);
  // Then every line is a record; present scalars are copied in the order asked, strings as is
  // and others as JSON text; missing, null, objects and arrays are left out
  using Fields = std::vector<std::pair<std::string, std::string>>;
  ASSERT_EQ(records.size(), 5u);
  for (const auto& record : records) ASSERT_TRUE(record.ok()) << record.reject;
  EXPECT_EQ(records[0].fields, (Fields{{"domain", "math"}, {"level", "3"}, {"elite", "true"}}));
  EXPECT_EQ(records[1].fields, Fields{});
  EXPECT_EQ(records[2].fields, (Fields{{"level", "1.50"}}));
  EXPECT_EQ(records[3].fields, (Fields{{"elite", "false"}}));
  EXPECT_EQ(records[4].fields, (Fields{{"domain", "bio\u00e9"}}));
}

TEST_F(RecordReaderTest, OptionalFieldsFollowExtraFieldsAndAreCopiedOnce) {
  // Given a required extra field and optional fields that repeat it and each other
  const std::string text =
      "{\"persona\": \"a\", \"topic\": \"t\", \"domain\": \"math\"}\n"
      "{\"persona\": \"b\", \"domain\": \"bio\"}\n";
  ReaderOptions options;
  options.extra_fields = {"topic"};
  options.optional_fields = {"domain", "topic", "domain", "persona"};
  // When it is read
  auto records = read_file("both.jsonl", text, options);
  // Then the extra fields come first, each name appears once, and a missing extra field is still
  // a reject
  using Fields = std::vector<std::pair<std::string, std::string>>;
  ASSERT_EQ(records.size(), 2u);
  ASSERT_TRUE(records[0].ok()) << records[0].reject;
  EXPECT_EQ(records[0].persona, "a");
  EXPECT_EQ(records[0].fields, (Fields{{"topic", "t"}, {"domain", "math"}, {"persona", "a"}}));
  EXPECT_EQ(records[1].reject, "missing field \"topic\"");
  EXPECT_TRUE(records[1].fields.empty());
}

}  // namespace
}  // namespace personagen
