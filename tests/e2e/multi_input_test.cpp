// Several inputs seen from the real binary: -i repeated and -i DIR read as one input, a reject
// names its own file and line, a run resumes in the middle of its second file, a changed list
// of files is refused, and dedup and render take the same inputs.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class MultiInputE2E : public E2E {
 protected:
  void SetUp() override {
    E2E::SetUp();
    out_ = dir_ / "out";
  }
  TestServer server_;
  fs::path out_;
};

TEST_F(MultiInputE2E, TwoInputsAreOneRunAndARejectNamesItsFileAndLine) {
  // Given two files, the second with a bad line as its second line
  std::vector<std::string> first = personas(2, "first");
  std::vector<std::string> second = personas(2, "second");
  fs::path a = write_personas("a.jsonl", first);
  fs::path b = dir_ / "b.jsonl";
  std::ofstream(b) << json{{"persona", second[0]}}.dump() << "\nnot json\n"
                   << json{{"persona", second[1]}}.dump() << "\n";
  // When one run reads both
  Result r = run({"synth", "-i", a, "-i", b, "-t", "math", "-o", out_, "-q"}, server_.base_url());
  // Then every persona of both is written once
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> all = first;
  all.insert(all.end(), second.begin(), second.end());
  EXPECT_TRUE(check_exactly_once(out_, "math", all));
  // And the reject names the second file and its line there
  std::vector<json> rejects = read_jsonl(read_file(out_ / "rejects.jsonl"));
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0]["file"], b.string());
  EXPECT_EQ(rejects[0]["line"], 2);
  // And the manifest records both files' fingerprints and the inputs as given
  json manifest = read_json(out_ / "manifest.json");
  ASSERT_EQ(manifest["input_files"].size(), 2u);
  EXPECT_EQ(manifest["input_files"][1]["path"], b.string());
  EXPECT_EQ(manifest["config"]["input"], a.string() + " + " + b.string());
}

TEST_F(MultiInputE2E, ADirectoryInputReadsWhatAnEarlierRunWrote) {
  // Given a finished run over five personas and a bad line, in three shards with a reject
  std::vector<std::string> all = personas(5, "chain");
  fs::path in = write_personas("in.jsonl", all);
  std::ofstream(in, std::ios::app) << "not json\n";
  fs::path math = dir_ / "math";
  Result made = run({"synth", "-i", in, "-t", "math", "-o", math, "-q", "--shard-size", "2"},
                    server_.base_url());
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_EQ(shard_files(math, "math").size(), 3u);
  ASSERT_TRUE(fs::exists(math / "rejects.jsonl"));
  // When its directory is the input of the next run
  Result r = run({"synth", "-i", math, "-t", "instruction", "-o", out_, "-q"}, server_.base_url());
  // Then the next run reads exactly the shards' records: every persona once, and no side file
  // (rejects.jsonl, manifest.json) is read as records
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(check_exactly_once(out_, "instruction", all));
  EXPECT_FALSE(fs::exists(out_ / "rejects.jsonl"));
  EXPECT_EQ(read_json(out_ / "manifest.json")["input_files"].size(), 3u);
}

TEST_F(MultiInputE2E, AnInterruptedRunOverTwoFilesResumesInTheSecondExactlyOnce) {
  // Given two files of 15 personas each, and a run stopped after 20 requests, one at a time
  std::vector<std::string> first = personas(15, "early");
  std::vector<std::string> second = personas(15, "late");
  fs::path a = write_personas("a.jsonl", first);
  fs::path b = write_personas("b.jsonl", second);
  std::vector<std::string> args{"synth", "-i", a,    "-i", b,   "-t",           "math",
                                "-o",    out_, "-q", "-j", "1", "--shard-size", "4"};
  Result stopped = interrupted_run(args, 20, 30);
  ASSERT_EQ(stopped.exit_code, 130) << stopped.err;
  // Then its checkpoint is in the second file
  json checkpoint = read_json(out_ / "manifest.json")["checkpoint"];
  EXPECT_EQ(checkpoint["next_file"], 1) << checkpoint.dump();
  EXPECT_GT(checkpoint["next_line"].get<uint64_t>(), 15u);
  EXPECT_EQ(checkpoint["next_file_line"].get<uint64_t>(),
            checkpoint["next_line"].get<uint64_t>() - 15);
  // When the same command is run again, then every line of both files is written exactly once
  Result r = run(args, server_.base_url());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> all = first;
  all.insert(all.end(), second.begin(), second.end());
  EXPECT_TRUE(check_exactly_once(out_, "math", all));
}

TEST_F(MultiInputE2E, ADirectoryThatGainedAShardIsRefusedNamingIt) {
  // Given a finished run over a directory of two shards
  fs::path in = dir_ / "in";
  fs::create_directories(in);
  std::ofstream(in / "p-00000.jsonl") << json{{"persona", "a nurse"}}.dump() << "\n";
  std::ofstream(in / "p-00001.jsonl") << json{{"persona", "a miner"}}.dump() << "\n";
  std::vector<std::string> args{"synth", "-i", in, "-t", "math", "-o", out_, "-q"};
  ASSERT_EQ(run(args, server_.base_url()).exit_code, 0);
  // When the directory gains a shard and the run is repeated
  std::ofstream(in / "p-00002.jsonl") << json{{"persona", "a baker"}}.dump() << "\n";
  Result r = run(args, server_.base_url());
  // Then it is refused, naming the new file
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "the input files changed since this run began: " +
                                  (in / "p-00002.jsonl").string() + " is new"))
      << r.err;
}

TEST_F(MultiInputE2E, DedupAndRenderTakeSeveralInputs) {
  // Given two files that share a persona
  fs::path a = write_personas("a.jsonl", {"a nurse on night shifts", "a miner in Wales"});
  fs::path b = write_personas("b.jsonl", {"a miner in Wales", "a baker in Lyon"});
  // When dedup reads both
  Result r = run({"dedup", "-i", a, "-i", b, "-o", dir_ / "kept.jsonl", "-q"}, server_.base_url());
  // Then the duplicate in the second file is dropped and the rest kept in order
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> kept = read_jsonl(read_file(dir_ / "kept.jsonl"));
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0]["persona"], "a nurse on night shifts");
  EXPECT_EQ(kept[1]["persona"], "a miner in Wales");
  EXPECT_EQ(kept[2]["persona"], "a baker in Lyon");
  // And render shows a request for each line of both
  Result shown =
      run({"render", "-i", a, "-i", b, "-t", "math", "--model", "m"}, server_.base_url());
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(read_jsonl(shown.out).size(), 4u);
}

TEST_F(MultiInputE2E, LimitSampleAndPartCountOverBothFiles) {
  // Given two files of three personas each
  fs::path a = write_personas("a.jsonl", personas(3, "left"));
  fs::path b = write_personas("b.jsonl", personas(3, "right"));
  auto bodies = [&](std::vector<std::string> flags) {
    std::vector<std::string> args{"render", "-i", a, "-i", b, "-t", "math", "--model", "m"};
    args.insert(args.end(), flags.begin(), flags.end());
    Result r = run(args, server_.base_url());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_jsonl(r.out);
  };
  // Then --limit 4 takes the first file and the first line of the second
  std::vector<json> limited = bodies({"--limit", "4"});
  ASSERT_EQ(limited.size(), 4u);
  EXPECT_TRUE(contains(limited[3].dump(), "right number 0")) << limited[3].dump();
  // And --sample draws from both files, and the two halves of --part cover all six
  EXPECT_EQ(bodies({"--sample", "5", "--seed", "3"}).size(), 5u);
  EXPECT_EQ(bodies({"--part", "0/2"}).size() + bodies({"--part", "1/2"}).size(), 6u);
}

}  // namespace
}  // namespace personagen::e2e
