// RecordReader over several files: one stream, global and per-file line numbers, resume.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "input/record_reader.h"
#include "record_reader_fixture.h"

namespace personagen {
namespace {

std::string line_of(const std::string& persona) {
  return "{\"persona\": \"" + persona + "\"}";
}

class RecordReaderFilesTest : public RecordReaderTest {
 protected:
  void SetUp() override {
    RecordReaderTest::SetUp();
    // Given two files: the first without a final newline and with a blank line, the second
    // with a BOM, CRLF endings and a reject
    first_ = write("a.jsonl", line_of("a1") + "\n\n" + line_of("a2"));
    second_ = write("b.jsonl",
                    "\xEF\xBB\xBF" + line_of("b1") + "\r\nnot json\r\n" + line_of("b2") + "\r\n");
  }
  std::string first_;
  std::string second_;
};

TEST_F(RecordReaderFilesTest, TwoFilesAreOneStreamWithGlobalAndPerFileLines) {
  // When both are read as one input
  RecordReader reader(std::vector<std::string>{first_, second_}, {});
  std::vector<InputRecord> records = read_all(reader);
  // Then the lines count on across the files, and each record knows its file and line there
  ASSERT_EQ(records.size(), 5u);
  struct Expected {
    const char* persona;
    uint64_t line;
    uint32_t file;
    uint64_t file_line;
    uint64_t offset;
  };
  const Expected expected[] = {{"a1", 1, 0, 1, 0},
                               {"a2", 3, 0, 3, line_of("a1").size() + 2},
                               {"b1", 4, 1, 1, 0},
                               {"", 5, 1, 2, 3 + line_of("b1").size() + 2},
                               {"b2", 6, 1, 3, 3 + line_of("b1").size() + 2 + 10}};
  for (size_t i = 0; i < records.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(records[i].persona, expected[i].persona);
    EXPECT_EQ(records[i].line, expected[i].line);
    EXPECT_EQ(records[i].file, expected[i].file);
    EXPECT_EQ(records[i].file_line, expected[i].file_line);
    EXPECT_EQ(records[i].offset, expected[i].offset);
  }
  EXPECT_FALSE(records[3].ok());
  // And the position after the end is past the last line of the last file
  EXPECT_EQ(reader.position().line, 7u);
  EXPECT_EQ(reader.position().file, 1u);
  EXPECT_EQ(reader.position().file_line, 4u);
  // And progress covers both files
  EXPECT_EQ(reader.raw_size(),
            std::filesystem::file_size(first_) + std::filesystem::file_size(second_));
  EXPECT_EQ(reader.raw_bytes_read(), reader.raw_size());
  EXPECT_EQ(reader.consumed_bytes(), reader.raw_size());
}

TEST_F(RecordReaderFilesTest, AResumeInTheSecondFileStartsThere) {
  // Given the position of b2, as a checkpoint records it while the first pass read
  RecordReader first(std::vector<std::string>{first_, second_}, {});
  ReadPosition at;
  while (auto record = first.next()) {
    if (record->persona == "b1") at = first.position();
  }
  ASSERT_EQ(at.file, 1u);
  // When a reader starts there (the line after b1: the reject, then b2)
  RecordReader reader(std::vector<std::string>{first_, second_}, {}, at);
  std::vector<InputRecord> records = read_all(reader);
  // Then it reads only the rest of the second file, with the same numbers
  ASSERT_EQ(records.size(), 2u);
  EXPECT_FALSE(records[0].ok());
  EXPECT_EQ(records[0].line, 5u);
  EXPECT_EQ(records[0].file_line, 2u);
  EXPECT_EQ(records[1].persona, "b2");
  EXPECT_EQ(records[1].line, 6u);
  EXPECT_EQ(records[1].file, 1u);
  EXPECT_EQ(records[1].file_line, 3u);
  // And progress counts the first file as read
  EXPECT_EQ(reader.raw_bytes_read(), reader.raw_size());
}

TEST_F(RecordReaderFilesTest, AResumeAtTheEndOfTheFirstFileGoesOnInTheSecond) {
  // Given the position after a2, the last line of the first file (which has no final newline)
  RecordReader reader(std::vector<std::string>{first_, second_}, {},
                      ReadPosition{4, std::filesystem::file_size(first_), 0, 4});
  std::vector<InputRecord> records = read_all(reader);
  // Then the second file follows
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].persona, "b1");
  EXPECT_EQ(records[0].line, 4u);
  EXPECT_EQ(records[0].file_line, 1u);
}

TEST_F(RecordReaderFilesTest, AResumeOutsideTheFilesOrOffALineNamesTheFile) {
  // Given a position in a third file that is not there
  std::string message = error_of([&] {
    RecordReader reader(std::vector<std::string>{first_, second_}, {}, ReadPosition{9, 0, 2, 1});
  });
  EXPECT_NE(message.find("input changed since the checkpoint"), std::string::npos) << message;
  // Given an offset in the second file that is not the start of a line
  message = error_of([&] {
    RecordReader reader(std::vector<std::string>{first_, second_}, {}, ReadPosition{5, 5, 1, 2});
  });
  EXPECT_EQ(message.rfind(second_ + ": input changed since the checkpoint", 0), 0u) << message;
}

TEST_F(RecordReaderFilesTest, APositionWithoutAFileLineIsOfTheFirstFile) {
  // Given a position as manifests before several inputs recorded it (no file, no file line)
  RecordReader reader(std::vector<std::string>{first_, second_}, {},
                      ReadPosition{3, line_of("a1").size() + 2});
  auto record = reader.next();
  ASSERT_TRUE(record.has_value());
  // Then the line within the file is the line
  EXPECT_EQ(record->persona, "a2");
  EXPECT_EQ(record->file_line, 3u);
}

}  // namespace
}  // namespace personagen
