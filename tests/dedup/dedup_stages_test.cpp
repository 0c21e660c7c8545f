// The staged and out-of-core dedup give what the in-memory dedup gives (issue 15).
#include "dedup/dedup_stages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "dedup/dedup_fixture.h"
#include "dedup/dedup_work.h"
#include "dedup/minhash.h"
#include "dedup/near_dup_index.h"
#include "dedup/spill_sort.h"
#include "dedup/text_normalize.h"
#include "personagen/error.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;
using testing_support::DedupTest;

// Sort buffers this small spill runs on inputs of a few hundred records.
constexpr size_t kTinyMemory = 4096;

std::string words(std::mt19937_64& rng, size_t count, const std::string& prefix) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    out += (out.empty() ? "" : " ") + prefix + std::to_string(rng() % 100000);
  }
  return out;
}

// Word lists joined with spaces.
std::string join(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& w : list) out += (out.empty() ? "" : " ") + w;
  return out;
}

class DedupStagesTest : public DedupTest {
 protected:
  // The templated records of the crowded buckets: 16 shared words and 2 of their own, so that
  // about a third of them share each band's key (every minimum among the shared words).
  std::vector<std::string> templated(size_t count) {
    std::mt19937_64 rng(7);
    const std::string common = words(rng, 16, "t");
    std::vector<std::string> out;
    for (size_t i = 0; i < count; ++i) out.push_back(common + " " + words(rng, 2, "u"));
    return out;
  }

  // The band keys of a text under the default options.
  static std::vector<uint32_t> band_keys(const std::string& text) {
    static const LshBands lsh = choose_lsh_bands(128, 0.9);
    static const MinHasher hasher(128, 1);
    std::vector<uint32_t> shingles, signature(128), keys;
    shingle_text(normalize_text(text), 1, shingles);
    hasher.signature(shingles, signature.data());
    for (size_t band = 0; band < lsh.bands; ++band) {
      keys.push_back(NearDupIndex::band_key(signature, band, lsh.rows));
    }
    return keys;
  }

  // crowd.back() and a word: a text whose bands equal crowd.back()'s only where those are the
  // crowded key (the most common among the crowd), and in one band at least.
  static std::string twin_in_crowded_buckets_only(const std::vector<std::string>& crowd) {
    std::vector<std::map<uint32_t, size_t>> counts;
    for (const std::string& text : crowd) {
      const std::vector<uint32_t> keys = band_keys(text);
      counts.resize(keys.size());
      for (size_t band = 0; band < keys.size(); ++band) ++counts[band][keys[band]];
    }
    std::vector<uint32_t> crowded;
    for (const auto& band : counts) {
      crowded.push_back(std::max_element(band.begin(), band.end(), [](auto& a, auto& b) {
                          return a.second < b.second;
                        })->first);
    }
    const std::vector<uint32_t> last = band_keys(crowd.back());
    for (size_t k = 0; k < 100000; ++k) {
      const std::string twin = crowd.back() + " e" + std::to_string(k);
      const std::vector<uint32_t> keys = band_keys(twin);
      bool in_crowded = false, elsewhere = false;
      for (size_t band = 0; band < keys.size(); ++band) {
        if (keys[band] != last[band]) continue;
        (last[band] == crowded[band] ? in_crowded : elsewhere) = true;
        // Its place in that bucket is past 64 if more than 64 of the crowd came before it.
        if (last[band] == crowded[band] &&
            counts[band][last[band]] <= NearDupIndex::kMaxBucket + 1) {
          elsewhere = true;
        }
      }
      if (in_crowded && !elsewhere) return twin;
    }
    ADD_FAILURE() << "no twin found";
    return crowd.back();
  }

  // Three input files with every kind of line that dedup meets; see the comments.
  std::vector<std::string> write_inputs() {
    std::mt19937_64 rng(42);
    std::vector<std::string> lines;
    std::vector<std::vector<std::string>> bases;
    for (size_t i = 0; i < 60; ++i) {
      std::vector<std::string> base;
      for (size_t w = 0; w < 20; ++w) base.push_back("w" + std::to_string(rng() % 100000));
      bases.push_back(base);
      lines.push_back(persona_line(join(base)));
    }
    for (size_t i = 0; i < 60; ++i) {
      std::vector<std::string> copy = bases[i];
      switch (i % 6) {
        case 0:  // an exact duplicate after normalization
          lines.push_back(persona_line("  " + join(copy) + " "));
          break;
        case 1:  // a word replaced: Jaccard 19/21, dropped
          copy[3] = "x" + std::to_string(i);
          lines.push_back(persona_line(join(copy)));
          break;
        case 2:  // two words replaced: 18/22, kept
          copy[3] = "x" + std::to_string(i);
          copy[9] = "y" + std::to_string(i);
          lines.push_back(persona_line(join(copy)));
          break;
        case 3:  // a word more: 20/21, dropped
          copy.push_back("z" + std::to_string(i));
          lines.push_back(persona_line(join(copy)));
          break;
        case 4:  // rejected lines and blank lines
          lines.push_back("not json\n");
          lines.push_back("\n");
          lines.push_back(R"({"other": "no persona field"})"
                          "\n");
          lines.push_back("   \n");
          lines.push_back(R"({"persona": 5})"
                          "\n");
          break;
        default:  // texts without words: only the exact stage judges them
          lines.push_back(persona_line("!!! ... ???"));
          lines.push_back(persona_line("--- ***"));
          break;
      }
    }
    // Long texts, past num_perm shingles: their pairs are judged by the signature estimate.
    for (size_t i = 0; i < 6; ++i) {
      std::string long_text = words(rng, 200, "l");
      lines.push_back(persona_line(long_text));
      lines.push_back(persona_line(long_text + " " + words(rng, 5, "m")));       // ~0.975
      lines.push_back(persona_line(long_text.substr(0, long_text.size() / 2)));  // ~0.5
    }
    // The crowded buckets, then near duplicates of templated records late in them.
    const std::vector<std::string> crowd = templated(300);
    for (size_t i = 0; i + 1 < crowd.size(); ++i) lines.push_back(persona_line(crowd[i]));
    for (size_t i = 0; i < crowd.size(); i += 7) lines.push_back(persona_line(crowd[i] + " v1"));
    std::shuffle(lines.begin() + 120, lines.end(), rng);
    // Last, a templated record past the 64th place of its crowded buckets, then a near duplicate
    // of it (18/19) that shares only crowded buckets with it: in memory it never sees it as a
    // candidate, and is kept; a staged dedup that ignored the cap would drop it.
    lines.push_back(persona_line(crowd.back()));
    lines.push_back(persona_line(twin_in_crowded_buckets_only(crowd)));

    const size_t third = lines.size() / 3;
    std::string a, b, c;
    for (size_t i = 0; i < lines.size(); ++i) (i < third ? a : i < 2 * third ? b : c) += lines[i];
    a.pop_back();  // a last line without its newline ends at the end of its file
    return {write("in-1.jsonl", a), write("in-2.jsonl", b), write("in-3.jsonl", c)};
  }

  StageOptions stage_options(const std::vector<std::string>& inputs) const {
    StageOptions s;
    s.dedup.inputs = inputs;
    s.work = path("work");
    s.memory_bytes = kTinyMemory;
    return s;
  }

  // The four stages over `parts` parts, bands split in two ranges; the filter outputs and
  // reports concatenated into staged.jsonl and staged-report.jsonl.
  DedupStats run_stages(StageOptions s, size_t parts) {
    for (size_t p = 0; p < parts; ++p) {
      s.part = {p, parts};
      dedup_signatures(s);
    }
    s.band_begin = 0;
    s.band_end = 5;
    dedup_buckets(s);
    s.band_begin = 5;
    s.band_end = SIZE_MAX;
    dedup_buckets(s);
    dedup_clusters(s);
    std::string output, report_text;
    DedupStats total;
    for (size_t p = 0; p < parts; ++p) {
      s.part = {p, parts};
      s.dedup.output = path("part-" + std::to_string(p) + ".jsonl");
      s.dedup.report = path("part-" + std::to_string(p) + "-report.jsonl");
      DedupStats stats = dedup_filter(s).stats;
      total.read += stats.read;
      total.kept += stats.kept;
      total.exact_dropped += stats.exact_dropped;
      total.near_dropped += stats.near_dropped;
      total.rejected += stats.rejected;
      output += read(s.dedup.output);
      report_text += read(s.dedup.report);
    }
    write("staged.jsonl", output);
    write("staged-report.jsonl", report_text);
    return total;
  }

  // Every file under the work directory (its tmp aside) and its content.
  std::map<std::string, std::string> work_files() const {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(path("work"))) {
      const std::string name = fs::relative(entry.path(), path("work")).string();
      if (entry.is_regular_file() && !name.starts_with("tmp")) {
        files[name] = read(entry.path().string()) + "@" +
                      std::to_string(fs::last_write_time(entry.path()).time_since_epoch().count());
      }
    }
    return files;
  }
};

TEST_F(DedupStagesTest, SpillSorterMergesManyRunsInOrderOnceEach) {
  // Given 1,000 pairs in random order, each twice, and a buffer of 3 records (hundreds of runs,
  // more than one merge can take at once)
  std::mt19937_64 rng(3);
  std::vector<VerifiedPair> pairs;
  for (uint64_t j = 0; j < 1000; ++j) pairs.push_back({j, rng() % 7, 0.5});
  std::vector<VerifiedPair> input = pairs;
  input.insert(input.end(), pairs.begin(), pairs.end());
  std::shuffle(input.begin(), input.end(), rng);
  const RunDirectory runs(path("runs"), "test");
  SpillSorter<VerifiedPair> sorter(runs, "pairs", 3 * sizeof(VerifiedPair));

  // When sorted with unique
  for (const VerifiedPair& pair : input) sorter.add(pair);
  std::vector<VerifiedPair> sorted;
  sorter.finish(true, [&](const VerifiedPair& pair) { sorted.push_back(pair); });

  // Then each pair comes once, in order, and the runs are gone
  std::sort(pairs.begin(), pairs.end());
  EXPECT_EQ(sorted, pairs);
  EXPECT_GT(sorter.spilled_runs(), 600u);
  EXPECT_TRUE(fs::is_empty(runs.path()));
}

TEST_F(DedupStagesTest, TheCrowdedBucketsHoldMoreThanKMaxBucketRecords) {
  // Given the templated records of write_inputs
  const std::vector<std::string> crowd = templated(300);
  const LshBands lsh = choose_lsh_bands(128, 0.9);
  const MinHasher hasher(128, 1);

  // When their band keys are counted
  std::map<std::pair<size_t, uint32_t>, size_t> buckets;
  std::vector<uint32_t> shingles, signature(128);
  for (const std::string& text : crowd) {
    shingle_text(normalize_text(text), 1, shingles);
    hasher.signature(shingles, signature.data());
    for (size_t band = 0; band < lsh.bands; ++band) {
      ++buckets[{band, NearDupIndex::band_key(signature, band, lsh.rows)}];
    }
  }

  // Then some bucket is past the cap, so the equivalence test below exercises it
  size_t largest = 0;
  for (const auto& [key, size] : buckets) largest = std::max(largest, size);
  EXPECT_GT(largest, NearDupIndex::kMaxBucket);
}

TEST_F(DedupStagesTest, InMemoryOutOfCoreAndStagedGiveTheSameBytes) {
  // Given three input files with exact and near duplicates, rejects, blank lines, texts without
  // words, long texts and crowded buckets
  const std::vector<std::string> inputs = write_inputs();

  // When deduplicated in memory,
  DedupOptions memory = options("");
  memory.inputs = inputs;
  const DedupStats in_memory = run_dedup(memory);
  // out of core with sort buffers that spill,
  DedupOptions out_of_core = memory;
  out_of_core.output = path("ooc.jsonl");
  out_of_core.report = path("ooc-report.jsonl");
  uint64_t spilled_runs = 0;
  const DedupStats ooc =
      run_dedup_out_of_core(out_of_core, kTinyMemory, path("tmp"), &spilled_runs);
  // and in four stages over three parts
  const DedupStats staged = run_stages(stage_options(inputs), 3);

  // Then the input had every kind of drop,
  EXPECT_GT(in_memory.exact_dropped, 0u);
  EXPECT_GT(in_memory.near_dropped, 0u);
  EXPECT_GT(in_memory.rejected, 0u);
  EXPECT_GT(spilled_runs, 0u);
  // the twin past the cap (the last line) was kept,
  const std::vector<std::string> in_lines = lines(inputs.back());
  const std::vector<std::string> out_lines = lines(path("out.jsonl"));
  EXPECT_EQ(out_lines.back(), in_lines.back());
  EXPECT_EQ(out_lines[out_lines.size() - 2], in_lines[in_lines.size() - 2]);
  // and all three give the same output and report, byte for byte, and the same counts
  const std::string output = read(path("out.jsonl"));
  const std::string report_text = read(path("report.jsonl"));
  EXPECT_FALSE(output.empty());
  EXPECT_EQ(read(path("ooc.jsonl")), output);
  EXPECT_EQ(read(path("ooc-report.jsonl")), report_text);
  EXPECT_EQ(read(path("staged.jsonl")), output);
  EXPECT_EQ(read(path("staged-report.jsonl")), report_text);
  for (const DedupStats& stats : {ooc, staged}) {
    EXPECT_EQ(stats.read, in_memory.read);
    EXPECT_EQ(stats.kept, in_memory.kept);
    EXPECT_EQ(stats.exact_dropped, in_memory.exact_dropped);
    EXPECT_EQ(stats.near_dropped, in_memory.near_dropped);
    EXPECT_EQ(stats.rejected, in_memory.rejected);
  }
  // and the out-of-core run leaves nothing in its temporary directory
  EXPECT_TRUE(fs::is_empty(path("tmp")));
}

TEST_F(DedupStagesTest, AFinishedStageIsNotRedoneAndACrashedOneIsRedoneTheSame) {
  // Given the four stages run once
  const std::vector<std::string> inputs = write_inputs();
  StageOptions s = stage_options(inputs);
  run_stages(s, 3);
  const std::map<std::string, std::string> before = work_files();

  // When each stage is run again, then it says it was done and changes no file
  s.part = {1, 3};
  EXPECT_TRUE(dedup_signatures(s).already_done);
  s.band_begin = 0;
  s.band_end = 5;
  EXPECT_TRUE(dedup_buckets(s).already_done);
  EXPECT_TRUE(dedup_clusters(s).already_done);
  EXPECT_EQ(work_files(), before);

  // When a stage's done marker is missing (it crashed before writing it), then it is redone and
  // gives the same files
  auto content = [](std::map<std::string, std::string> files) {
    for (auto& [name, text] : files) text.erase(text.rfind('@'));
    return files;
  };
  fs::remove(path("work/signatures/part-1-of-3/done.json"));
  fs::remove(path("work/buckets/bands-0-5/done.json"));
  fs::remove(path("work/clusters/done.json"));
  EXPECT_FALSE(dedup_signatures(s).already_done);
  EXPECT_FALSE(dedup_buckets(s).already_done);
  EXPECT_FALSE(dedup_clusters(s).already_done);
  EXPECT_EQ(content(work_files()), content(before));
}

TEST_F(DedupStagesTest, MismatchesMissingPartsAndTruncatedFilesAreClearErrors) {
  const std::vector<std::string> inputs = write_inputs();
  StageOptions s = stage_options(inputs);
  auto message = [](auto&& stage) -> std::string {
    try {
      stage();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  // Given parts 0 and 2 of 3 with threshold 0.9
  s.part = {0, 3};
  dedup_signatures(s);
  s.part = {2, 3};
  dedup_signatures(s);

  // Then buckets name the missing part
  EXPECT_EQ(message([&] { dedup_buckets(s); }),
            "dedup buckets: part 1 of 3 has no signatures yet (" + path("work") +
                "/signatures/part-1-of-3/done.json)");
  // and another threshold names the flag and both values
  StageOptions other = s;
  other.dedup.threshold = 0.8;
  other.dedup.bands = 12;  // the banding of 0.9, so that only the threshold differs
  other.dedup.rows = 10;
  EXPECT_EQ(message([&] { dedup_signatures(other); }),
            path("work") +
                "/signatures/part-2-of-3/done.json: made with --threshold 0.9, this run has 0.8");

  // Given part 1 made with another threshold, buckets name it
  StageOptions part1 = other;
  part1.part = {1, 3};
  dedup_signatures(part1);
  EXPECT_EQ(
      message([&] { dedup_buckets(s); }),
      path("work") +
          "/signatures/part-1-of-3/done.json: made with --threshold 0.8, part 0 of 3 has 0.9");
  fs::remove_all(path("work/signatures/part-1-of-3"));

  // Given all parts, a truncated band file is named
  s.part = {1, 3};
  dedup_signatures(s);
  const std::string band = path("work/signatures/part-1-of-3/band-3");
  fs::resize_file(band, fs::file_size(band) - 5);
  EXPECT_EQ(message([&] { dedup_buckets(s); }).rfind(band + ": truncated", 0), 0u);

  // Clusters name the bands no finished buckets cover
  fs::remove_all(path("work/signatures/part-1-of-3"));
  s.part = {1, 3};
  dedup_signatures(s);
  s.band_begin = 0;
  s.band_end = 10;
  dedup_buckets(s);
  EXPECT_NE(
      message([&] { dedup_clusters(s); }).find("no finished buckets for band(s) 10, 11 of 12"),
      std::string::npos);

  // Stdin, --embed-model and a bad --part are usage errors
  StageOptions in_stdin = s;
  in_stdin.dedup.inputs = {"-"};
  EXPECT_THROW(dedup_signatures(in_stdin), Error);
  StageOptions embed = s;
  embed.dedup.embed_model = "m";
  EXPECT_THROW(dedup_signatures(embed), Error);
  for (const std::string bad : {"3/3", "1", "a/2", "1/0", "-1/2", "1/2/3"}) {
    try {
      parse_part(bad, "--part");
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::usage);
      EXPECT_NE(std::string(e.what()).find("--part"), std::string::npos);
    }
  }
  EXPECT_EQ(parse_part("2/3", "--part").index, 2u);
  EXPECT_EQ(parse_part("2/3", "--part").count, 3u);
}

}  // namespace
}  // namespace personagen
