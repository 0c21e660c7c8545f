// The API key: one reader that refuses what cannot be a key, and masking in outside text.
#include "app/api_key.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

// A temporary directory, and $OPENAI_API_KEY unset, for each test.
class ApiKey : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/personagen-api-key-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    unsetenv("OPENAI_API_KEY");
  }
  void TearDown() override {
    unsetenv("OPENAI_API_KEY");
    fs::remove_all(dir_);
  }

  // Options whose --api-key-file holds `content`.
  Options with_key_file(const std::string& content) {
    Options options;
    options.api_key_file = dir_ / "key";
    std::ofstream(options.api_key_file, std::ios::binary) << content;
    return options;
  }

  fs::path dir_;
};

TEST_F(ApiKey, AKeyFileIsTrimmedAndTheEnvironmentIsTheFallback) {
  EXPECT_EQ(read_api_key(with_key_file("  sk-file-key-1\r\n")), "sk-file-key-1");
  setenv("OPENAI_API_KEY", " sk-env-key-2\n", 1);
  EXPECT_EQ(read_api_key(Options{}), "sk-env-key-2");
  // An empty $OPENAI_API_KEY means no key: local servers often need none.
  setenv("OPENAI_API_KEY", "", 1);
  EXPECT_EQ(read_api_key(Options{}), "");
}

TEST_F(ApiKey, AKeyWithALineBreakOrAControlCharacterIsAUsageErrorThatDoesNotShowIt) {
  // Given keys that would inject a header, or hold a space, a tab, a DEL or a non-ASCII byte,
  const std::vector<std::string> keys{"sk-abc\r\nX-Evil: 1",
                                      "sk-abc\nX-Evil: 1",
                                      "sk-a bc",
                                      "sk-a\tbc",
                                      "sk-a\x7f"
                                      "bc",
                                      "sk-\xc3\xa9t\xc3\xa9"};
  for (const std::string& bad : keys) {
    SCOPED_TRACE(bad);
    // when the key is read from a file or from the environment,
    ExitCode code = ExitCode::ok;
    std::string message = error_of([&] { read_api_key(with_key_file(bad)); }, &code);
    // then it is a usage error of one line, naming where the key came from but not the key.
    EXPECT_EQ(code, ExitCode::usage);
    EXPECT_NE(message.find("--api-key-file"), std::string::npos) << message;
    EXPECT_EQ(message.find("sk-"), std::string::npos) << message;
    EXPECT_EQ(message.find("Evil"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    setenv("OPENAI_API_KEY", bad.c_str(), 1);
    message = error_of([&] { read_api_key(Options{}); }, &code);
    EXPECT_EQ(code, ExitCode::usage);
    EXPECT_NE(message.find("OPENAI_API_KEY"), std::string::npos) << message;
    EXPECT_EQ(message.find("sk-"), std::string::npos) << message;
    unsetenv("OPENAI_API_KEY");
  }
}

TEST_F(ApiKey, AnEmptyKeyFileOrADirectoryIsAUsageError) {
  ExitCode code = ExitCode::ok;
  for (std::string empty : {"", "\n", "  \r\n\t"}) {
    std::string message = error_of([&] { read_api_key(with_key_file(empty)); }, &code);
    EXPECT_EQ(code, ExitCode::usage);
    EXPECT_NE(message.find("empty"), std::string::npos) << message;
  }
  Options directory;
  directory.api_key_file = dir_;
  std::string message = error_of([&] { read_api_key(directory); }, &code);
  EXPECT_EQ(code, ExitCode::usage);
  EXPECT_NE(message.find("directory"), std::string::npos) << message;
  EXPECT_EQ(message.find(dir_.string()), std::string::npos) << message;
}

TEST_F(ApiKey, AnUnreadableKeyFileIsNamedByItsFlagNeverByItsPath) {
  // Given the key itself where the path goes (--api-key-file "$OPENAI_API_KEY"),
  const std::string key = "sk-proj-given-as-a-path-123";
  setenv("OPENAI_API_KEY", key.c_str(), 1);
  Options options;
  options.api_key_file = key;
  // when it cannot be read, then the error names the flag and the reason, not the path.
  ExitCode code = ExitCode::ok;
  std::string message = error_of([&] { read_api_key(options); }, &code);
  EXPECT_EQ(code, ExitCode::usage);
  EXPECT_NE(message.find("--api-key-file: cannot read the file"), std::string::npos) << message;
  EXPECT_EQ(message.find("given-as"), std::string::npos) << message;
}

TEST(Redacted, MasksTheKeyAsIsAndJsonEscapedInAnyCharacter) {
  const std::string key = "sk-ab/c";
  EXPECT_EQ(redacted("invalid key: sk-ab/c.", key), "invalid key: ***.");
  EXPECT_EQ(redacted(R"({"message":"key \u0073k-ab\/c"})", key), R"({"message":"key ***"})");
  EXPECT_EQ(redacted(R"(\u0073\u006B\u002d\u0061\u0062\u002F\u0063 and \u0073k-ab/c)", key),
            "*** and ***");
  EXPECT_EQ(redacted("sk-ab/csk-ab\\/c", key), "******");
  // Near misses and other escapes are left alone.
  EXPECT_EQ(redacted(R"(sk-ab/ sk-ab\u002c \u0074k-ab/c \n)", key),
            R"(sk-ab/ sk-ab\u002c \u0074k-ab/c \n)");
  EXPECT_EQ(redacted("text", ""), "text");
  // In text from outside even a short key is masked.
  EXPECT_EQ(redacted("max \\u0078", "x"), "ma*** ***");
}

TEST(Redacted, RedactInPlaceLeavesTextWithoutTheKeyAsItWas) {
  std::string text = "a reply that never mentions it \\u0041";
  redact(text, "sk-absent-key");
  EXPECT_EQ(text, "a reply that never mentions it \\u0041");
  text = "a \\\"quoted\\\" sk-\"q\" key: sk-\\\"q\\\"";
  redact(text, "sk-\"q\"");
  EXPECT_EQ(text, "a \\\"quoted\\\" *** key: ***");
}

TEST_F(ApiKey, PersonagensOwnMessagesAreNotMaskedForAShortKey) {
  // Given a one-letter key (as local servers accept), the usage message stays readable;
  setenv("OPENAI_API_KEY", "x", 1);
  EXPECT_EQ(without_api_key("--extra-body must be a JSON object", Options{}),
            "--extra-body must be a JSON object");
  // given a real key, any occurrence in a message, escaped or not, is masked.
  setenv("OPENAI_API_KEY", "sk-live-0123456789", 1);
  EXPECT_EQ(without_api_key("sk-live-0123456789.jsonl: no such file; \\u0073k-live-0123456789",
                            Options{}),
            "***.jsonl: no such file; ***");
}

TEST(ArgumentValues, AParseErrorNeverQuotesAValueFromTheCommandLine) {
  const char* argv[] = {"personagen", "synth",           "-i",   "in.jsonl", "sk-abc-pasted",
                        "--x=secret", "--relation=a,bb", "-jsk", "-o",       "-"};
  int argc = static_cast<int>(std::size(argv));
  EXPECT_EQ(
      without_argument_values("The following argument was not expected: sk-abc-pasted", argc, argv),
      "The following argument was not expected: (not shown)");
  EXPECT_EQ(without_argument_values("Could not convert: --x = secret", argc, argv),
            "Could not convert: --x = (not shown)");
  EXPECT_EQ(without_argument_values("--relation: bb, sk", argc, argv),
            "--relation: (not shown), (not shown)");
  // Option names, and a value inside a longer word, stay.
  EXPECT_EQ(without_argument_values("--x is required; expected synthesis", argc, argv),
            "--x is required; expected synthesis");
  EXPECT_EQ(without_argument_values("A subcommand is required", 1, argv),
            "A subcommand is required");
  // Numbers are shown: they cannot be a key, and a message may state a range.
  const char* numbers[] = {"personagen", "synth", "--top-p", "0", "-j", "-1"};
  EXPECT_EQ(without_argument_values("--top-p: expected a number above 0 and at most 1", 6, numbers),
            "--top-p: expected a number above 0 and at most 1");
}

}  // namespace
}  // namespace personagen
