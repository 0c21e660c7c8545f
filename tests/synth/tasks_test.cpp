#include "synth/tasks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace personagen {
namespace {

TEST(TasksTest, TableHoldsTheSixPaperTasksInOrder) {
  // Given the built-in table
  const auto tasks = builtin_tasks();

  // Then it lists the six tasks in the paper's order, with their Persona Hub descriptions
  ASSERT_EQ(tasks.size(), 6u);
  const std::vector<std::string> names = {"math",      "reasoning", "instruction",
                                          "knowledge", "npc",       "tool"};
  const std::vector<std::string> descriptions = {"math problem", "logical reasoning problem",
                                                 "instruction",  "knowledge-rich text",
                                                 "game npc",     "tool development"};
  for (size_t i = 0; i < tasks.size(); ++i) {
    EXPECT_EQ(tasks[i].name, names[i]);
    EXPECT_EQ(tasks[i].description, descriptions[i]);
    EXPECT_FALSE(tasks[i].summary.empty());
  }
  EXPECT_EQ(tasks[0].kind, OutputKind::text);
  EXPECT_EQ(tasks[3].kind, OutputKind::text);
  EXPECT_EQ(tasks[4].kind, OutputKind::npc);
  EXPECT_EQ(tasks[5].kind, OutputKind::tool);
}

TEST(TasksTest, FindTaskByName) {
  // Given the names of a known and an unknown task
  // When they are looked up
  const TaskInfo* npc = find_task("npc");

  // Then the known one is found and the unknown one (or a different case) is not
  ASSERT_NE(npc, nullptr);
  EXPECT_EQ(npc->kind, OutputKind::npc);
  EXPECT_EQ(npc, &builtin_tasks()[4]);
  EXPECT_EQ(find_task("poetry"), nullptr);
  EXPECT_EQ(find_task("Math"), nullptr);
  EXPECT_EQ(find_task(""), nullptr);
}

TEST(TasksTest, JudgeIsATrainingTaskWithOnlyZeroShot) {
  const TaskInfo* judge = find_task("judge");
  ASSERT_NE(judge, nullptr);
  EXPECT_EQ(judge->kind, OutputKind::judge);
  EXPECT_EQ(judge->role, TaskRole::training);
  EXPECT_TRUE(judge->zero_shot_only);
  EXPECT_EQ(judge, &training_tasks().back());
}

TEST(TasksTest, TextMustNotBeEmpty) {
  // Given empty, blank and real text replies
  // When they are checked as text
  const ParsedOutput empty = parse_output(OutputKind::text, "");
  const ParsedOutput blank = parse_output(OutputKind::text, " \n\t\r\n ");
  const ParsedOutput text = parse_output(OutputKind::text, "  A nurse works 3 night shifts...\n");

  // Then only the real text passes, and text has no parsed form
  EXPECT_FALSE(empty.ok);
  EXPECT_EQ(empty.reason, "empty output");
  EXPECT_FALSE(blank.ok);
  EXPECT_EQ(blank.reason, "empty output");
  EXPECT_TRUE(text.ok);
  EXPECT_TRUE(text.parsed.empty());
  EXPECT_TRUE(text.reason.empty());
}

}  // namespace
}  // namespace personagen
