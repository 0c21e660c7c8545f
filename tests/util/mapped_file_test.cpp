#include "util/mapped_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>

#include "personagen/error.h"
#include "util/file_io.h"

namespace personagen {
namespace {

class MappedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("pg-mapped-" + std::to_string(::getpid()) + ".txt"))
                .string();
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    std::remove(path_.c_str());
  }
  int open_with(const std::string& text) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    write_all(fd_, text, path_);
    return fd_;
  }
  std::string path_;
  int fd_ = -1;
};

TEST_F(MappedFileTest, MapsTheBytesAskedForAndMovesOwnership) {
  // Given a file of 11 bytes mapped for its first 5
  MappedFile map(open_with("hello world"), 5, path_);
  EXPECT_TRUE(map.mapped());
  EXPECT_EQ(map.bytes(), "hello");

  // When moved, the new owner has them and the old one nothing
  MappedFile moved = std::move(map);
  EXPECT_EQ(moved.bytes(), "hello");
  EXPECT_FALSE(map.mapped());  // NOLINT(bugprone-use-after-move): moved-from state is defined
  EXPECT_EQ(map.bytes(), "");
}

TEST_F(MappedFileTest, AnEmptyFileMapsToNothingAndABadDescriptorIsAnErrorNamingThePath) {
  MappedFile empty(open_with(""), 0, path_);
  EXPECT_FALSE(empty.mapped());
  EXPECT_EQ(empty.bytes(), "");
  try {
    MappedFile bad(-1, 10, path_);
    FAIL() << "mapped a bad descriptor";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find(path_ + ": cannot map into memory"), 0u) << e.what();
  }
}

}  // namespace
}  // namespace personagen
