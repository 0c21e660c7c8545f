#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "store/manifest.h"
#include "store/shard_writer.h"
#include "store/watermark.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

// The whole exactly-once contract: a simulated run reads lines, finishes them out of order into
// shards, failures.jsonl and rejects.jsonl, checkpoints into manifest.json at random, and is
// killed at random. Each restart resumes from the manifest alone. In the end every input line
// must be in exactly one place.
class ExactlyOnceTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    path_ = path("manifest.json");
  }

  static constexpr uint64_t kLines = 1500;
  static bool blank(uint64_t line) { return line % 17 == 0; }
  static bool reject(uint64_t line) { return line % 13 == 0; }
  static bool failure(uint64_t line) { return line % 11 == 0; }
  static uint64_t offset_of(uint64_t line) { return 100 * (line - 1); }
  static std::string json_of(uint64_t line) { return "{\"line\":" + std::to_string(line) + "}"; }

  // Runs until the input is done or a random crash; returns whether it finished.
  bool run(std::mt19937& random) {
    std::optional<Manifest> previous = read_manifest(path_);
    Manifest manifest = previous.value_or(Manifest{});
    const Checkpoint& cp = manifest.checkpoint;
    EXPECT_EQ(cp.next.offset, offset_of(cp.next.line));
    Watermark watermark(cp.next, cp.selected_below, cp.done_above);
    ShardWriter writer(dir_, "math", 17, cp.writer);
    uint64_t next = cp.next.line;
    std::vector<uint64_t> in_flight;
    auto finish = [&](uint64_t line) {
      if (reject(line)) {
        writer.write_reject(json_of(line));
      } else if (failure(line)) {
        writer.write_failure(json_of(line));
      } else {
        writer.write_record(json_of(line));
      }
      watermark.finish(line);
    };
    auto checkpoint = [&](bool complete) {
      manifest.checkpoint.writer = complete ? writer.close() : writer.sync();
      manifest.checkpoint.next = watermark.low();
      manifest.checkpoint.selected_below = watermark.selected_below();
      manifest.checkpoint.done_above = watermark.done_above();
      manifest.complete = complete;
      write_manifest(path_, manifest);
    };
    while (next <= kLines || !in_flight.empty()) {
      if (random() % 400 == 0) return false;  // kill -9
      if (random() % 30 == 0) checkpoint(false);
      if (next <= kLines && (in_flight.size() < 8 && random() % 2 == 0)) {
        uint64_t line = next++;
        if (!blank(line)) {
          // A line finished by an earlier run is counted, not redone.
          watermark.begin({line, offset_of(line)}, !reject(line));
          if (watermark.done_before(line)) {
            watermark.finish(line);
          } else if (reject(line)) {
            finish(line);
          } else {
            in_flight.push_back(line);
          }
        }
        watermark.set_read_position({next, offset_of(next)});
      } else if (!in_flight.empty()) {
        size_t pick = random() % in_flight.size();
        finish(in_flight[pick]);
        in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(pick));
      }
    }
    checkpoint(true);
    return true;
  }

  std::string path_;
};

TEST_F(ExactlyOnceTest, CrashAnywhereThenResumeFinishesTheJob) {
  // Given a run that is killed at random and restarted from its manifest until it completes
  std::mt19937 random(7);
  int runs = 1;
  while (!run(random)) ++runs;
  // Then every non-blank line is in exactly one of the outputs, in the right one
  std::map<uint64_t, std::string> where;
  auto collect = [&](const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    for (std::string line; std::getline(in, line);) {
      uint64_t number = nlohmann::json::parse(line)["line"].get<uint64_t>();
      EXPECT_TRUE(where.emplace(number, name.substr(0, 4)).second) << "line " << number << " twice";
    }
  };
  std::optional<Manifest> manifest = read_manifest(path_);
  ASSERT_TRUE(manifest.has_value());
  EXPECT_TRUE(manifest->complete);
  for (const ShardInfo& shard : manifest->checkpoint.writer.shards) collect(shard.name);
  collect("failures.jsonl");
  collect("rejects.jsonl");
  uint64_t selected = 0;
  for (uint64_t line = 1; line <= kLines; ++line) {
    if (blank(line)) {
      EXPECT_FALSE(where.contains(line)) << line;
      continue;
    }
    selected += reject(line) ? 0 : 1;
    std::string expected = reject(line) ? "reje" : failure(line) ? "fail" : "math";
    EXPECT_EQ(where[line], expected) << "line " << line;
  }
  EXPECT_EQ(where.size(), kLines - kLines / 17);
  // And the checkpoint's counters agree with the files
  EXPECT_EQ(manifest->checkpoint.next.line, kLines + 1);
  EXPECT_TRUE(manifest->checkpoint.done_above.empty());
  EXPECT_EQ(manifest->checkpoint.selected_below, selected);
  EXPECT_GT(runs, 3);
}

}  // namespace
}  // namespace personagen
