#include "store/atomic_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    path_ = path("out.jsonl");
  }

  std::string path_;
};

TEST_F(AtomicFileTest, CommitReplacesTheFileWholeAndLeavesNoTmp) {
  // Given an existing file and an AtomicFile over it with two writes
  write_file(path_, "the old content, longer than the new\n");
  AtomicFile file(path_);
  file.write("new ");
  file.write("content\n");
  // Then before the commit the old file is untouched and the new bytes are in the .tmp
  EXPECT_EQ(read_file(path_), "the old content, longer than the new\n");
  EXPECT_TRUE(fs::exists(path_ + ".tmp"));
  // When it is committed
  file.commit();
  // Then the file holds exactly the new content, and no .tmp is left
  EXPECT_EQ(read_file(path_), "new content\n");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(AtomicFileTest, DestructionWithoutCommitKeepsTheOldFileAndRemovesTheTmp) {
  // Given an existing file
  write_file(path_, "old\n");
  // When an AtomicFile over it is written and then destroyed without a commit
  {
    AtomicFile file(path_);
    file.write("half of a new file");
  }
  // Then the old file is as it was, and the .tmp is gone
  EXPECT_EQ(read_file(path_), "old\n");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(AtomicFileTest, DestructionWithoutCommitCreatesNothing) {
  // Given no file; when an AtomicFile is destroyed without a commit, then there is still none
  { AtomicFile file(path_); }
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(AtomicFileTest, AFileInAMissingDirectoryIsAnErrorNamingIt) {
  // Given a path in a directory that does not exist; then opening it names the file
  const std::string missing = dir_ + "/absent/out.jsonl";
  const std::string error = error_of([&] { AtomicFile file(missing); });
  EXPECT_NE(error.find(missing + ".tmp: cannot create"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(dir_ + "/absent"));
}

TEST_F(AtomicFileTest, AFailedCommitRemovesTheTmpAndNamesTheFile) {
  // Given a path that is a directory holding a file, so the rename cannot replace it
  fs::create_directory(path_);
  write_file(path_ + "/inside", "x");
  AtomicFile file(path_);
  file.write("content\n");
  // When it is committed, then the error names the file, and the .tmp is removed
  const std::string error = error_of([&] { file.commit(); });
  EXPECT_NE(error.find(path_ + ": cannot rename into place"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
  EXPECT_TRUE(fs::is_directory(path_));
}

TEST_F(AtomicFileTest, WriteFileAtomicWritesTheWholeContent) {
  // Given nothing; when a file is written with write_file_atomic, then it holds the content
  write_file_atomic(path_, "one\ntwo\n");
  EXPECT_EQ(read_file(path_), "one\ntwo\n");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(AtomicFileTest, SyncOfAMissingDirectoryIsAnErrorNamingIt) {
  // Given a directory that does not exist; then syncing it names it
  const std::string missing = dir_ + "/absent";
  const std::string error = error_of([&] { sync_dir(missing); });
  EXPECT_NE(error.find(missing + ": cannot open directory"), std::string::npos) << error;
  // And an existing one syncs
  EXPECT_NO_THROW(sync_dir(dir_));
}

}  // namespace
}  // namespace personagen
