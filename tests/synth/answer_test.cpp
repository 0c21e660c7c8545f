#include "synth/answer.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "synth/prompt_template.h"

namespace personagen {
namespace {

struct KeyRow {
  std::string input;
  std::string key;
};

// Each rule of normalize_answer, one or more rows each: the answer and its expected key.
const std::vector<KeyRow> kKeys = {
    // whitespace and $
    {"  42 ", "42"},
    {"$42$", "42"},
    {"$$ x^2 + 1 $$", "x^2+1"},
    {"\\sqrt{2}", "\\sqrt{2}"},
    {"\\sqrt { 2 }", "\\sqrt{2}"},
    // \left and \right, but not \leftarrow
    {"\\left( 1, 2 \\right)", "(1,2)"},
    {"\\left[0,1\\right]", "[0,1]"},
    {"x \\rightarrow y", "x\\rightarrowy"},
    // spacing commands
    {"1\\!000", "1000"},
    {"a\\,b\\;c\\:d", "abcd"},
    {"5\\ \\text{cm}", "5cm"},
    // wrappers keep their content
    {"\\text{Monday}", "Monday"},
    {"\\textbf{ 12 }", "12"},
    {"\\mathrm{kg}", "kg"},
    {"\\mbox{yes}", "yes"},
    {"\\text{\\textbf{7}}", "7"},
    {"\\text{(B)}", "(B)"},
    // \dfrac and \tfrac
    {"\\dfrac{\\pi}{2}", "\\frac{\\pi}{2}"},
    {"\\tfrac{\\sqrt3}{2}", "\\frac{\\sqrt3}{2}"},
    // trailing period and enclosing braces
    {"17.", "17"},
    {"{17}", "17"},
    {"{{x+1}}.", "x+1"},
    // thousands separators
    {"1,000", "1000"},
    {"1{,}000", "1000"},
    {"12,345,678", "12345678"},
    {"1,000.5", "2001/2"},
    {"(1,2)", "(1,2)"},
    {"1,2,3", "1,2,3"},
    {"1,0000", "1,0000"},
    {"1,000,00", "1,000,00"},
    // degrees and percent
    {"30^\\circ", "30"},
    {"30^{\\circ}", "30"},
    {"30\xC2\xB0", "30"},
    {"30\\degree", "30"},
    {"45\\%", "45"},
    {"45%", "45"},
    // numbers compared as numbers
    {"0.5", "1/2"},
    {".50", "1/2"},
    {"0.500", "1/2"},
    {"1/2", "1/2"},
    {"2/4", "1/2"},
    {"\\frac{1}{2}", "1/2"},
    {"\\frac12", "1/2"},
    {"\\dfrac{3}{6}", "1/2"},
    {"-\\frac{1}{2}", "-1/2"},
    {"\\frac{-1}{2}", "-1/2"},
    {"\\frac{1}{-2}", "-1/2"},
    {"-0.5", "-1/2"},
    {"\xE2\x88\x92"
     "3",
     "-3"},
    {"+7", "7"},
    {"007", "7"},
    {"5.0", "5"},
    {"-0", "0"},
    {"\\frac{6}{3}", "2"},
    {"1/3", "1/3"},
    {"0.1234567", "0.1234567"},
    {"3.14159265358979323846", "3.14159265359"},
    {"12345678901234567890123", "1.23456789012e+22"},
    // not plain numbers: cleaned text
    {"1/0", "1/0"},
    {"\\frac{x}{2}", "\\frac{x}{2}"},
    {"1/2/3", "1/2/3"},
    {"2\\sqrt{3}", "2\\sqrt{3}"},
    {"", ""},
};

TEST(NormalizeAnswer, Table) {
  for (const KeyRow& row : kKeys) {
    EXPECT_EQ(normalize_answer(row.input), row.key) << "input: " << row.input;
  }
}

TEST(NormalizeAnswer, EqualValuesGiveOneKey) {
  // Given every way the issue names to write one half, when normalized, then all keys agree.
  for (const char* half : {"0.5", "1/2", "\\frac{1}{2}", ".50", "$\\frac12$", "\\dfrac{1}{2}."}) {
    EXPECT_EQ(normalize_answer(half), normalize_answer("0.5")) << half;
  }
}

TEST(NormalizeAnswer, DifferentAnswersGiveDifferentKeys) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"0.5", "0.05"},
      {"1/2", "1/3"},
      {"-1/2", "1/2"},
      {"(1,2)", "12"},
      {"1,2,3", "123"},
      {"x^2+1", "x^2-1"},
      {"\\sqrt{2}", "2"},
      {"0.333", "1/3"},
      {"100", "10"},
      {"10^\\circ", "1"},
      {"\\frac{1}{2}", "\\frac{2}{1}"},
  };
  for (const auto& [a, b] : pairs) {
    EXPECT_NE(normalize_answer(a), normalize_answer(b)) << a << " vs " << b;
  }
}

TEST(ExtractAnswer, NestedBraces) {
  EXPECT_EQ(extract_answer("So $x = \\boxed{\\frac{1}{2}}$."), "\\frac{1}{2}");
  EXPECT_EQ(extract_answer("\\boxed{\\{1, 2\\}}"), "\\{1, 2\\}");
}

TEST(ExtractAnswer, LastBoxWins) {
  EXPECT_EQ(extract_answer("First \\boxed{3}, then corrected: \\boxed{4}."), "4");
  EXPECT_EQ(extract_answer("\\boxed{ 5 } and \\fbox{6}"), "6");
}

TEST(ExtractAnswer, FboxAndBareToken) {
  EXPECT_EQ(extract_answer("The total is \\fbox{12}."), "12");
  EXPECT_EQ(extract_answer("Hence $\\boxed 5$."), "5");
  EXPECT_EQ(extract_answer("Hence \\boxed 42."), "42");
  EXPECT_EQ(extract_answer("Hence \\boxed \\pi"), "\\pi");
}

TEST(ExtractAnswer, UnbalancedBoxIsIgnored) {
  // Given a last box that never closes, then the earlier balanced box is the answer.
  EXPECT_EQ(extract_answer("\\boxed{7} ... so \\boxed{8"), "7");
  EXPECT_EQ(extract_answer("\\boxed{\\frac{1}{2}"), std::nullopt);
  // A box inside a box that never closes still counts.
  EXPECT_EQ(extract_answer("\\boxed{3 \\boxed{9}"), "9");
}

TEST(ExtractAnswer, EmptyBoxHasNoAnswer) {
  EXPECT_EQ(extract_answer("\\boxed{}"), std::nullopt);
  EXPECT_EQ(extract_answer("\\boxed{7} then \\boxed{  }"), std::nullopt);
}

TEST(ExtractAnswer, NoBoxNoPhrase) {
  EXPECT_EQ(extract_answer(""), std::nullopt);
  EXPECT_EQ(extract_answer("I am not sure how to solve this."), std::nullopt);
  EXPECT_EQ(extract_answer("\\boxedx{3}"), std::nullopt);
}

TEST(ExtractAnswer, FallbackPhrases) {
  EXPECT_EQ(extract_answer("Step 1 ...\nFinal answer: 42\nThanks"), "42");
  EXPECT_EQ(extract_answer("So THE ANSWER IS 3.5. Done."), "3.5");
  EXPECT_EQ(extract_answer("The final answer is $\\frac{3}{4}$."), "$\\frac{3}{4}$");
  EXPECT_EQ(extract_answer("**Final Answer:** 17"), "17");
  // The last phrase wins.
  EXPECT_EQ(extract_answer("The answer is 2. Wait, no. The answer is 5."), "5");
  // A phrase with nothing after it.
  EXPECT_EQ(extract_answer("The answer is ."), std::nullopt);
  // Blanks around it are any within a line, \f and \v too (found by fuzz_completion).
  EXPECT_EQ(extract_answer("final answer:\v\v\f 7\v"), "7");
  EXPECT_EQ(extract_answer("final answer:\v\v"), std::nullopt);
}

TEST(ExtractAnswer, BoxBeatsPhrase) {
  EXPECT_EQ(extract_answer("The answer is 3, i.e. \\boxed{3}. Final answer: three"), "3");
}

TEST(ExtractAnswer, LongUnbalancedInputStaysFast) {
  // Given 100k unclosed boxes, then the answer (none) comes back; quadratic work would time out.
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "\\boxed{";
  EXPECT_EQ(extract_answer(text), std::nullopt);
  EXPECT_EQ(normalize_answer(text).size(), text.size());
}

// The rule of extract_answer for boxes with braces, written the slow and obvious way: for every
// box command (any backslash followed by "boxed" or "fbox" and an opening brace), scan for its
// closing brace, counting groups and skipping the character after a backslash; the answer is the
// trimmed content of the last box that closes, if it is not empty.
std::optional<std::string> last_closed_box(const std::string& text) {
  std::optional<std::string> answer;
  for (size_t at = 0; at < text.size(); ++at) {
    if (text[at] != '\\') continue;
    size_t p = 0;
    for (std::string name : {"boxed", "fbox"})
      if (text.compare(at + 1, name.size(), name) == 0) p = at + 1 + name.size();
    if (p == 0 || p >= text.size() || text[p] != '{') continue;
    size_t depth = 0, close = std::string::npos;
    for (size_t i = p; i < text.size() && close == std::string::npos; ++i) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == '{') {
        ++depth;
      } else if (text[i] == '}' && --depth == 0) {
        close = i;
      }
    }
    if (close == std::string::npos) continue;
    std::string content = text.substr(p + 1, close - p - 1);
    content.erase(0, content.find_first_not_of(' '));
    content.erase(content.find_last_not_of(' ') + 1);
    answer = content;
  }
  if (answer && answer->empty()) return std::nullopt;
  return answer;
}

TEST(ExtractAnswer, AgreesWithTheSlowRuleOnRandomBoxesAndBraces) {
  // Given random texts of boxes that open a brace, braces, escapes and answers, often with the
  // last box never closing (so that an earlier box must be found)
  const std::vector<std::string> pieces = {"\\boxed{", "\\fbox{", "{",   "}",   "5",
                                           "x",        " ",       "\\{", "\\}", "\\\\"};
  std::mt19937 random(11);
  for (int round = 0; round < 50000; ++round) {
    std::string text;
    const size_t count = 1 + random() % 14;
    for (size_t i = 0; i < count; ++i) text += pieces[random() % pieces.size()];
    // Then extract_answer finds what the slow rule finds
    EXPECT_EQ(extract_answer(text), last_closed_box(text)) << text;
  }
}

TEST(SolvePrompts, LoadFromTheEmbeddedCopyWithOneBoxedAnswerPerDemonstration) {
  // Given the built-in solve prompts
  const TaskPrompts prompts = load_task_prompts("solve", "", "");

  // Then every method asks for a boxed answer, and the few-shot ones show demonstrations
  for (const Template* t : {&prompts.zero_shot, &prompts.few_shot, &prompts.persona_few_shot}) {
    EXPECT_NE(t->text().find("within \\boxed{}"), std::string::npos) << t->origin();
    EXPECT_EQ(t->placeholders(), std::vector<std::string>{"persona"}) << t->origin();
  }
  EXPECT_TRUE(prompts.few_shot.has_examples_section());
  EXPECT_NE(prompts.persona_few_shot.text().find("Written for: {{persona}}"), std::string::npos);

  // And each of the 8 worked solutions ends in exactly one box that extract_answer finds
  ASSERT_EQ(prompts.demos.size(), 8u);
  for (const Demonstration& demo : prompts.demos) {
    const std::string& output = demo.output;
    EXPECT_TRUE(output.starts_with("Problem: ")) << demo.id;
    EXPECT_NE(output.find("\n\nSolution: "), std::string::npos) << demo.id;
    const size_t box = output.find("\\boxed{");
    ASSERT_NE(box, std::string::npos) << demo.id;
    EXPECT_EQ(output.find("\\boxed{", box + 1), std::string::npos) << demo.id;
    EXPECT_TRUE(output.ends_with("}.")) << demo.id;
    EXPECT_TRUE(extract_answer(output).has_value()) << demo.id;
  }
  EXPECT_EQ(extract_answer(prompts.demos[1].output), "\\frac{240}{11}");
}

}  // namespace
}  // namespace personagen
