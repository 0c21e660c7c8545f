#include "input/input_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

class InputFilesTest : public TempDirTest {};

TEST_F(InputFilesTest, ADirectoryIsItsRecordShardsInNameOrder) {
  // Given what a synth run leaves in its output directory, and shards written out of order
  const std::string out = path("out");
  std::filesystem::create_directories(out + "/hop-1");
  for (const char* name :
       {"math-00001.jsonl", "math-00000.jsonl", "math-00002.jsonl.tmp", "failures.jsonl",
        "failures.retry.jsonl", "rejects.jsonl", "unverified.jsonl", "below-threshold.jsonl",
        "manifest.json", "manifest.json.tmp", "checkpoint.journal", ".lock", "notes.txt",
        "extra-00000.jsonl.gz", "z.jsonl.zst", ".hidden.jsonl"})
    write_file(out + "/" + name, "{}\n");
  // When it is expanded
  std::vector<std::string> files = expand_inputs({out});
  // Then only the shards are read, in byte-wise name order, and side files, .tmp shards and
  // subdirectories are left out
  EXPECT_EQ(files,
            (std::vector<std::string>{out + "/extra-00000.jsonl.gz", out + "/math-00000.jsonl",
                                      out + "/math-00001.jsonl", out + "/z.jsonl.zst"}));
}

TEST_F(InputFilesTest, InputsKeepTheirOrderAndFilesStayAsGiven) {
  // Given a file, a directory and a file that does not exist (the reader names it)
  write_file(path("a.jsonl"), "{}\n");
  std::filesystem::create_directories(path("d"));
  write_file(path("d/x-00000.jsonl"), "{}\n");
  // Then each is where it was given, the directory expanded in its place
  EXPECT_EQ(
      expand_inputs({path("absent.jsonl"), path("d/"), path("a.jsonl")}),
      (std::vector<std::string>{path("absent.jsonl"), path("d/x-00000.jsonl"), path("a.jsonl")}));
}

TEST_F(InputFilesTest, ADirectoryWithoutAShardIsAnErrorNamingIt) {
  // Given a directory with only side files
  const std::string out = path("empty");
  std::filesystem::create_directories(out);
  write_file(out + "/failures.jsonl", "{}\n");
  write_file(out + "/math-00000.jsonl.tmp", "{}\n");
  // Then expanding it is a usage error that names it
  ExitCode code = ExitCode::ok;
  std::string message = error_of([&] { expand_inputs({out}); }, &code);
  EXPECT_EQ(code, ExitCode::usage);
  EXPECT_EQ(message.rfind(out + ": the input directory holds no record shard", 0), 0u) << message;
}

TEST_F(InputFilesTest, StdinIsOnlyAllowedAlone) {
  EXPECT_EQ(expand_inputs({"-"}), (std::vector<std::string>{"-"}));
  write_file(path("a.jsonl"), "{}\n");
  ExitCode code = ExitCode::ok;
  std::string message = error_of([&] { expand_inputs({path("a.jsonl"), "-"}); }, &code);
  EXPECT_EQ(code, ExitCode::usage);
  EXPECT_NE(message.find("standard input can only be the one input"), std::string::npos);
}

TEST(IsRecordShardTest, SideFilesAndTemporaryFilesAreNotShards) {
  EXPECT_TRUE(is_record_shard("math-00000.jsonl"));
  EXPECT_TRUE(is_record_shard("personas.jsonl.gz"));
  EXPECT_TRUE(is_record_shard("personas.jsonl.zst"));
  EXPECT_FALSE(is_record_shard("math-00000.jsonl.tmp"));
  EXPECT_FALSE(is_record_shard("rejects.jsonl"));
  EXPECT_FALSE(is_record_shard("requests-00000.jsonl"));
  EXPECT_FALSE(is_record_shard("requests-r1-00000.jsonl"));
  EXPECT_FALSE(is_record_shard("results-requests-00000.jsonl"));
  EXPECT_FALSE(is_record_shard("errors-requests-00000.jsonl"));
  EXPECT_FALSE(is_record_shard("unverified.jsonl"));
  EXPECT_FALSE(is_record_shard("manifest.json"));
  EXPECT_FALSE(is_record_shard(".jsonl"));
  EXPECT_FALSE(is_record_shard("data.json"));
}

TEST(JoinInputsTest, OneInputIsItsValueUnchanged) {
  EXPECT_EQ(join_inputs({"in.jsonl"}), "in.jsonl");
  EXPECT_EQ(join_inputs({"a.jsonl", "out/math"}), "a.jsonl + out/math");
}

}  // namespace
}  // namespace personagen
