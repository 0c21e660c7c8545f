#include "dedup/dedup.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "dedup/dedup_fixture.h"
#include "dedup/dedup_stages.h"
#include "dedup/minhash.h"
#include "dedup/text_normalize.h"
#include "personagen/error.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing_support::DedupTest;

TEST_F(DedupTest, DropsExactDuplicatesAfterCaseSpaceAndNfcChanges) {
  // Given one persona and copies that differ only in case, white space and Unicode form
  std::string in = write("in.jsonl", persona_line("A caf\u00e9 owner in Lyon") +
                                         persona_line("a  CAFE\u0301 owner\tin lyon ") +
                                         persona_line("A CAF\u00c9 OWNER IN LYON") +
                                         persona_line("A baker in Lyon"));

  // When deduplicated
  DedupStats stats = run_dedup(options(in));

  // Then only the first copy and the other persona remain, and the report names line 1
  EXPECT_EQ(lines(path("out.jsonl")).size(), 2u);
  EXPECT_EQ(stats.read, 4u);
  EXPECT_EQ(stats.kept, 2u);
  EXPECT_EQ(stats.exact_dropped, 2u);
  std::vector<Json> dropped = report(path("report.jsonl"));
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0]["line"], 2);
  EXPECT_EQ(dropped[0]["duplicate_of"], 1);
  EXPECT_EQ(dropped[0]["stage"], "exact");
  EXPECT_EQ(dropped[0]["similarity"], 1.0);
  EXPECT_EQ(dropped[0]["text"], "a  CAFE\u0301 owner\tin lyon ");
  EXPECT_EQ(dropped[1]["line"], 3);
}

TEST_F(DedupTest, DropsNearDuplicatesWithTheirJaccardInTheReport) {
  // Given a 20-word persona, a copy with one word changed (Jaccard 19/21) and a copy with
  // three words changed (Jaccard 17/23)
  std::vector<std::string> words;
  for (int i = 0; i < 20; ++i) words.push_back("word" + std::to_string(i));
  auto text = [&](int changed) {
    std::string t;
    for (int i = 0; i < 20; ++i) t += (i < changed ? "other" + std::to_string(i) : words[i]) + " ";
    return t;
  };
  std::string in =
      write("in.jsonl", persona_line(text(0)) + persona_line(text(1)) + persona_line(text(3)));

  // When deduplicated at the default threshold of 0.9
  DedupStats stats = run_dedup(options(in));

  // Then the one-word change is dropped as a near duplicate of line 1 and the other kept
  EXPECT_EQ(stats.near_dropped, 1u);
  EXPECT_EQ(stats.kept, 2u);
  EXPECT_EQ(stats.bands, 12u);
  EXPECT_EQ(stats.rows, 10u);
  std::vector<Json> dropped = report(path("report.jsonl"));
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0]["line"], 2);
  EXPECT_EQ(dropped[0]["duplicate_of"], 1);
  EXPECT_EQ(dropped[0]["stage"], "minhash");
  EXPECT_NEAR(dropped[0]["similarity"].get<double>(), 19.0 / 21.0, 1e-4);
}

TEST_F(DedupTest, AnExactCopyOfANearDuplicateDuplicatesTheFirstLineOfItsText) {
  // Given a 20-word persona, a copy with one word changed, and that copy again in capitals
  std::string base, changed;
  for (int i = 0; i < 20; ++i) {
    base += "word" + std::to_string(i) + " ";
    changed += (i == 0 ? std::string("other") : "word" + std::to_string(i)) + " ";
  }
  std::string upper = changed;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  std::string in =
      write("in.jsonl", persona_line(base) + persona_line(changed) + persona_line(upper));

  // When deduplicated in memory and out of core
  DedupStats stats = run_dedup(options(in));
  DedupOptions out_of_core = options(in);
  out_of_core.output = path("ooc.jsonl");
  out_of_core.report = path("ooc-report.jsonl");
  run_dedup_out_of_core(out_of_core, 4096, path("tmp"));

  // Then line 2 is a near duplicate of line 1, and line 3 an exact duplicate of line 2, the
  // first line with its text, though line 2 was dropped; both ways alike
  EXPECT_EQ(stats.kept, 1u);
  std::vector<Json> dropped = report(path("report.jsonl"));
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0]["stage"], "minhash");
  EXPECT_EQ(dropped[1]["line"], 3);
  EXPECT_EQ(dropped[1]["stage"], "exact");
  EXPECT_EQ(dropped[1]["duplicate_of"], 2);
  EXPECT_EQ(read(path("ooc-report.jsonl")), read(path("report.jsonl")));
  EXPECT_EQ(read(path("ooc.jsonl")), read(path("out.jsonl")));
}

TEST_F(DedupTest, WritesKeptLinesAsTheyWereInInputOrder) {
  // Given records of any shape: extra fields, odd key order, escapes, a BOM and CRLF endings,
  // with blank lines and one duplicate between them
  const std::string first =
      R"({"z":1,"persona":"Un m\u00e9decin \"urgentiste\"","nested":{"a":[1,2]}})";
  const std::string second = R"({"persona":"A sailor","id":"x-2"})";
  const std::string dup = R"({"persona":"a   SAILOR","id":"x-3"})";
  const std::string third = R"({"persona":"A poet","score":0.5})";
  std::string in = write(
      "in.jsonl", "\xEF\xBB\xBF" + first + "\r\n\r\n" + second + "\r\n" + dup + "\n\n" + third);

  // When deduplicated
  run_dedup(options(in));

  // Then the kept lines are byte for byte the input's, less BOM and CR, in input order
  std::vector<std::string> expected = {first, second, third};
  EXPECT_EQ(lines(path("out.jsonl")), expected);
  EXPECT_EQ(read(path("out.jsonl")).back(), '\n');
  // and the report numbers lines as the input has them, blank lines included
  std::vector<Json> dropped = report(path("report.jsonl"));
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0]["line"], 4);
  EXPECT_EQ(dropped[0]["duplicate_of"], 3);
}

TEST_F(DedupTest, RejectsUnusableLinesWithoutWritingThem) {
  // Given a file with a line that is not JSON, one without the field and one with a number
  std::string in = write("in.jsonl", persona_line("A nurse") + "{not json\n" +
                                         R"({"name":"x"})"
                                         "\n"
                                         R"({"persona":7})"
                                         "\n" +
                                         persona_line("A pilot"));

  // When deduplicated
  DedupStats stats = run_dedup(options(in));

  // Then the three are counted as rejected, and only the usable records are written
  EXPECT_EQ(stats.rejected, 3u);
  EXPECT_EQ(stats.read, 5u);
  EXPECT_EQ(stats.kept, 2u);
  EXPECT_EQ(lines(path("out.jsonl")).size(), 2u);
  EXPECT_TRUE(report(path("report.jsonl")).empty());
}

TEST_F(DedupTest, DeduplicatesAnyFieldSuchAsSynthOutput) {
  // Given synth-like records whose outputs repeat while their personas differ
  auto record = [](int id, const std::string& persona, const std::string& output) {
    return Json{{"custom_id", "r" + std::to_string(id)}, {"persona", persona}, {"output", output}}
               .dump() +
           "\n";
  };
  std::string in =
      write("in.jsonl", record(1, "A chef", "Solve 2 + 2.") + record(2, "A pilot", "solve 2 + 2") +
                            record(3, "A chef", "Name three rivers."));

  // When deduplicated on "output"
  DedupOptions o = options(in);
  o.field = "output";
  DedupStats stats = run_dedup(o);

  // Then the repeated output is dropped although its persona is new, and the same persona
  // with a new output is kept
  EXPECT_EQ(stats.kept, 2u);
  std::vector<std::string> out = lines(path("out.jsonl"));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(Json::parse(out[0])["custom_id"], "r1");
  EXPECT_EQ(Json::parse(out[1])["custom_id"], "r3");
}

TEST_F(DedupTest, SameInputAndSeedGiveTheSameOutput) {
  // Given a file with many near duplicates
  std::mt19937_64 rng(5);
  std::string content;
  for (int i = 0; i < 2000; ++i) {
    std::string text;
    for (int w = 0; w < 15; ++w) text += "w" + std::to_string(rng() % 60) + " ";
    content += persona_line(text);
  }
  std::string in = write("in.jsonl", content);

  // When deduplicated twice with one seed and once with another
  DedupOptions o = options(in);
  o.threshold = 0.5;
  run_dedup(o);
  std::string first = read(path("out.jsonl")), first_report = read(path("report.jsonl"));
  run_dedup(o);
  std::string second = read(path("out.jsonl")), second_report = read(path("report.jsonl"));

  // Then both runs with the seed agree byte for byte
  EXPECT_EQ(first, second);
  EXPECT_EQ(first_report, second_report);
  EXPECT_FALSE(first_report.empty());
}

TEST_F(DedupTest, ReadsGzipAndStdinAndMayOverwriteItsInput) {
  // Given a gzip file, the same content on stdin, and a plain file deduplicated in place
  const std::string content =
      persona_line("A diver") + persona_line("a DIVER") + persona_line("A farmer");
  gzFile gz = gzopen(path("in.jsonl.gz").c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  gzwrite(gz, content.data(), static_cast<unsigned>(content.size()));
  gzclose(gz);

  // When each is deduplicated
  DedupStats from_gzip = run_dedup(options(path("in.jsonl.gz")));
  std::string gzip_out = read(path("out.jsonl"));

  std::string in = write("stdin.jsonl", content);
  int saved = ::dup(STDIN_FILENO);
  FILE* file = std::fopen(in.c_str(), "rb");
  ASSERT_NE(file, nullptr);
  ::dup2(fileno(file), STDIN_FILENO);
  DedupStats from_stdin = run_dedup(options("-"));
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  std::fclose(file);
  std::string stdin_out = read(path("out.jsonl"));

  DedupOptions in_place = options(in);
  in_place.output = in;
  run_dedup(in_place);

  // Then all three keep the same two records
  EXPECT_EQ(from_gzip.kept, 2u);
  EXPECT_EQ(from_stdin.kept, 2u);
  EXPECT_EQ(gzip_out, persona_line("A diver") + persona_line("A farmer"));
  EXPECT_EQ(stdin_out, gzip_out);
  EXPECT_EQ(read(in), gzip_out);
}

TEST_F(DedupTest, KeepsLinesLongerThanTheReadBuffer) {
  // Given a persona of 3 MB, three times the reader's buffer, and a copy of it in other case
  std::string big(3u << 20, 'a');
  for (size_t i = 7; i < big.size(); i += 8) big[i] = ' ';
  std::string in = write(
      "in.jsonl", persona_line(big) + persona_line("A clerk") + persona_line("A" + big.substr(1)));

  // When deduplicated
  DedupStats stats = run_dedup(options(in));

  // Then the long line is written whole and its copy dropped as an exact duplicate
  EXPECT_EQ(stats.exact_dropped, 1u);
  EXPECT_EQ(read(path("out.jsonl")), persona_line(big) + persona_line("A clerk"));
}

TEST_F(DedupTest, CorruptInputFailsWithoutOutput) {
  // Given a gzip file cut off in the middle
  std::string content;
  for (int i = 0; i < 20000; ++i) content += persona_line("persona " + std::to_string(i));
  gzFile gz = gzopen(path("in.jsonl.gz").c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  gzwrite(gz, content.data(), static_cast<unsigned>(content.size()));
  gzclose(gz);
  fs::resize_file(path("in.jsonl.gz"), fs::file_size(path("in.jsonl.gz")) / 2);

  // When deduplicated
  // Then the reader's error reaches the caller and no output is left behind
  EXPECT_THROW(run_dedup(options(path("in.jsonl.gz"))), Error);
  EXPECT_FALSE(fs::exists(path("out.jsonl")));
  EXPECT_FALSE(fs::exists(path("out.jsonl.tmp")));
}

TEST_F(DedupTest, BadOptionsAndMissingInputLeaveNoOutput) {
  // Given options that cannot work
  DedupOptions missing = options(path("missing.jsonl"));
  DedupOptions bad_threshold = options(write("in.jsonl", persona_line("x")));
  bad_threshold.threshold = 1.5;
  DedupOptions bad_bands = options(path("in.jsonl"));
  bad_bands.bands = 20;
  bad_bands.rows = 10;

  // When run
  // Then each throws and no output file is left behind
  EXPECT_THROW(run_dedup(missing), Error);
  try {
    run_dedup(bad_threshold);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
  }
  EXPECT_THROW(run_dedup(bad_bands), Error);
  EXPECT_FALSE(fs::exists(path("out.jsonl")));
  EXPECT_FALSE(fs::exists(path("out.jsonl.tmp")));
}

// --- Recall and precision against exact Jaccard -------------------------------------------

// The generated set: base texts of 12-25 distinct words from a large vocabulary, then edits of
// random earlier texts. Edits of 0-2 words give pairs around and above 0.9; edits of 3-6 words
// give hard negatives between 0.6 and 0.85.
std::vector<std::string> generated_texts(size_t bases, std::mt19937_64& rng) {
  auto word = [&] { return "v" + std::to_string(rng() % 50000); };
  std::vector<std::vector<std::string>> texts;
  for (size_t i = 0; i < bases; ++i) {
    std::vector<std::string> text;
    const size_t length = 12 + rng() % 14;
    while (text.size() < length) {
      std::string w = word();
      if (std::find(text.begin(), text.end(), w) == text.end()) text.push_back(w);
    }
    texts.push_back(std::move(text));
    // About one edited copy per base: the near duplicates and the hard negatives.
    if (rng() % 10 < 9) {
      std::vector<std::string> edited = texts[rng() % texts.size()];
      const size_t kind = rng() % 8;
      if (kind == 0) {  // an extra word
        edited.insert(edited.begin() + rng() % edited.size(), word());
      } else if (kind == 1) {  // a word less
        edited.erase(edited.begin() + rng() % edited.size());
      } else {  // 0, 1, 2 or 3..6 words replaced
        const size_t changes = kind <= 3 ? kind - 2 : kind <= 5 ? 1 + rng() % 2 : 3 + rng() % 4;
        for (size_t c = 0; c < changes; ++c) edited[rng() % edited.size()] = word();
      }
      std::shuffle(edited.begin(), edited.end(), rng);
      texts.push_back(std::move(edited));
    }
  }
  std::vector<std::string> out;
  for (const auto& text : texts) {
    std::string joined;
    for (const std::string& w : text) joined += (joined.empty() ? "" : " ") + w;
    out.push_back(joined);
  }
  return out;
}

// The check of a dedup run over generated_texts, whose drops `report` lists: judged with exact
// Jaccard over the same shingles, at least 95% recall and precision.
void expect_recall_and_precision(const std::vector<std::string>& texts,
                                 const std::vector<Json>& report, const DedupStats& stats) {
  std::vector<std::vector<uint32_t>> sets(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) shingle_text(normalize_text(texts[i]), 1, sets[i]);
  std::map<uint64_t, uint64_t> dropped;  // line -> duplicate_of
  for (const Json& drop : report) dropped[drop["line"]] = drop["duplicate_of"];
  size_t true_drops = 0, should_drop = 0, caught = 0, near_pairs = 0, hard_negatives = 0;
  for (const auto& [line, of] : dropped) {
    true_drops += exact_jaccard(sets[line - 1], sets[of - 1]) >= 0.9;
  }
  // Texts that share no shingle have Jaccard 0, so the kept texts are found by shingle.
  std::map<uint32_t, std::vector<size_t>> kept_by_shingle;
  for (size_t i = 0; i < texts.size(); ++i) {
    double best = 0;
    for (uint32_t shingle : sets[i]) {
      for (size_t k : kept_by_shingle[shingle]) {
        best = std::max(best, exact_jaccard(sets[i], sets[k]));
      }
    }
    near_pairs += best >= 0.9 && best < 1;
    hard_negatives += best >= 0.6 && best < 0.9;
    if (best >= 0.9) {
      ++should_drop;
      caught += dropped.contains(i + 1);
    }
    if (!dropped.contains(i + 1)) {
      for (uint32_t shingle : sets[i]) kept_by_shingle[shingle].push_back(i);
    }
  }
  const double precision = static_cast<double>(true_drops) / static_cast<double>(dropped.size());
  const double recall = static_cast<double>(caught) / static_cast<double>(should_drop);
  std::printf(
      "texts %zu, dropped %zu (exact %llu, near %llu), near pairs %zu, hard negatives "
      "%zu: precision %.4f, recall %.4f\n",
      texts.size(), dropped.size(), static_cast<unsigned long long>(stats.exact_dropped),
      static_cast<unsigned long long>(stats.near_dropped), near_pairs, hard_negatives, precision,
      recall);
  // every drop is a pair at or above the threshold (precision),
  EXPECT_GE(precision, 0.95);
  // and records with an earlier kept record at or above it are dropped (recall),
  EXPECT_GE(recall, 0.95);
  // on a set that really has both kinds of pairs
  EXPECT_GE(near_pairs, 500u);
  EXPECT_GE(hard_negatives, 500u);
}

TEST_F(DedupTest, RecallAndPrecisionAgainstExactJaccardAreAtLeast95Percent) {
  // Given about 5,700 texts with known near duplicates and hard negatives
  std::mt19937_64 rng(2024);
  std::vector<std::string> texts = generated_texts(3000, rng);
  std::string content;
  for (const std::string& text : texts) content += persona_line(text);
  std::string in = write("in.jsonl", content);

  // When deduplicated with the paper's settings
  DedupStats stats = run_dedup(options(in));

  // Then, judged with exact Jaccard over the same shingles, recall and precision are >= 95%
  expect_recall_and_precision(texts, report(path("report.jsonl")), stats);
}

TEST_F(DedupTest, OutOfCoreRecallAndPrecisionAgainstExactJaccardAreAtLeast95Percent) {
  // Given the same texts
  std::mt19937_64 rng(2024);
  std::vector<std::string> texts = generated_texts(3000, rng);
  std::string content;
  for (const std::string& text : texts) content += persona_line(text);
  std::string in = write("in.jsonl", content);

  // When deduplicated out of core, in stages, with little memory (dedup_stages.h)
  uint64_t spilled_runs = 0;
  DedupStats stats = run_dedup_out_of_core(options(in), 64 << 10, path("tmp"), &spilled_runs);

  // Then recall and precision are as high
  EXPECT_GT(spilled_runs, 0u);
  expect_recall_and_precision(texts, report(path("report.jsonl")), stats);
}

}  // namespace
}  // namespace personagen
