// Bad input, one case per test, through the real binary: every unusable line ends in
// rejects.jsonl with its line number and a reason while the good lines are processed, and every
// unusable file ends in one clear error line naming it. Never a crash, a hang or a silent skip.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

// The bytes of a JSONL line holding `persona`.
std::string line_of(const std::string& persona) {
  return json{{"persona", persona}}.dump();
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The non-empty lines of `text`.
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

class BadInput : public E2E {
 protected:
  void SetUp() override {
    E2E::SetUp();
    out_ = dir_ / "out";
  }

  // Writes `raw` as the input file, byte for byte.
  fs::path write_raw(const std::string& name, const std::string& raw) {
    fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << raw;
    return path;
  }

  Result synth(const fs::path& input, bool quiet = true) {
    std::vector<std::string> args{"synth", "-i", input, "-t", "math", "-o", out_, "-j", "4"};
    if (quiet) args.push_back("-q");
    return run(args, server_.base_url());
  }

  // rejects.jsonl holds exactly the lines `want`, each naming the input, with an offset and a
  // reason that contains `reason_word` (case-insensitive).
  void expect_rejects(const fs::path& input, const std::vector<int>& want,
                      const std::string& reason_word) {
    ASSERT_TRUE(fs::exists(out_ / "rejects.jsonl"));
    std::vector<json> rejects = read_jsonl(read_file(out_ / "rejects.jsonl"));
    std::vector<int> got;
    for (const json& reject : rejects) {
      got.push_back(reject["line"]);
      std::string reason = reject["reason"];
      EXPECT_NE(lower(reason).find(lower(reason_word)), std::string::npos) << reject.dump();
      EXPECT_EQ(reject["file"], input.string()) << reject.dump();
      EXPECT_TRUE(reject["offset"].is_number_unsigned()) << reject.dump();
    }
    EXPECT_EQ(got, want);
  }

  TestServer server_;
  fs::path out_;
};

TEST_F(BadInput, LinesThatAreNotJsonObjectsAreRejected) {
  // Given good lines around lines that are not JSON, cut-off JSON and JSON that is no object,
  std::vector<std::string> good = personas(3);
  auto input =
      write_raw("in.jsonl", line_of(good[0]) + "\nthis is not json\n" + line_of(good[1]) +
                                "\n{\"persona\": \"cut\n[1,2]\n42\n" + line_of(good[2]) + "\n");
  // when synth runs,
  Result r = synth(input);
  // then those lines are rejects with their line numbers, and the good ones are processed.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  expect_rejects(input, {2, 4, 5, 6}, "JSON");
  EXPECT_TRUE(check_exactly_once(out_, "math", good));
}

TEST_F(BadInput, AMissingPersonaFieldIsRejected) {
  // Given a line without the persona field,
  std::vector<std::string> good = personas(2);
  auto input = write_raw("in.jsonl", line_of(good[0]) + "\n" +
                                         json{{"name", "Ann"}, {"role", "pilot"}}.dump() + "\n" +
                                         line_of(good[1]) + "\n");
  // when synth runs,
  Result r = synth(input);
  // then it is a reject naming the field, and the others are processed.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  expect_rejects(input, {2}, "persona");
  EXPECT_TRUE(check_exactly_once(out_, "math", good));
}

TEST_F(BadInput, ANonStringPersonaIsRejected) {
  // Given persona fields that are a number, null, an object, an array and a boolean,
  std::vector<std::string> good = personas(2);
  auto input = write_raw("in.jsonl", line_of(good[0]) +
                                         "\n{\"persona\":42}\n{\"persona\":null}\n"
                                         "{\"persona\":{\"a\":1}}\n{\"persona\":[\"x\"]}\n"
                                         "{\"persona\":true}\n" +
                                         line_of(good[1]) + "\n");
  // when synth runs,
  Result r = synth(input);
  // then each is a reject saying the field is not a string.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  expect_rejects(input, {2, 3, 4, 5, 6}, "string");
  EXPECT_TRUE(check_exactly_once(out_, "math", good));
}

TEST_F(BadInput, InvalidUtf8InThePersonaIsRejected) {
  // Given personas with stray bytes, an overlong encoding, a cut-off sequence and a lone
  // surrogate escape (none of which is valid UTF-8 text),
  std::vector<std::string> good = personas(2);
  good.push_back("A valid pair of surrogates \xF0\x9F\x98\x80 is fine");
  auto input = write_raw("in.jsonl", line_of(good[0]) +
                                         "\n{\"persona\":\"bad \xFF\xFE bytes\"}\n"
                                         "{\"persona\":\"overlong \xC0\xAF\"}\n"
                                         "{\"persona\":\"cut \xE2\x82\"}\n"
                                         "{\"persona\":\"lone \\ud800 surrogate\"}\n"
                                         "{\"persona\":\"A valid pair of surrogates "
                                         "\\ud83d\\ude00 is fine\"}\n" +
                                         line_of(good[1]) + "\n");
  // when synth runs,
  Result r = synth(input);
  // then each bad line is a reject, rejects.jsonl itself is valid JSON (read_jsonl would
  // throw), and the good lines, the escaped emoji included, are processed.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  expect_rejects(input, {2, 3, 4, 5}, "");
  for (const json& reject : read_jsonl(read_file(out_ / "rejects.jsonl")))
    EXPECT_FALSE(reject["reason"].get<std::string>().empty());
  EXPECT_TRUE(check_exactly_once(out_, "math", good));
}

TEST_F(BadInput, ATenMegabyteLineIsRejectedAndTheNextLineStillProcessed) {
  // Given a 10 MB line between two normal ones,
  std::vector<std::string> good = personas(2);
  std::string huge = line_of("A very long persona " + std::string(10 << 20, 'x'));
  auto input =
      write_raw("in.jsonl", line_of(good[0]) + "\n" + huge + "\n" + line_of(good[1]) + "\n");
  // when synth runs,
  Result r = synth(input);
  // then the long line is a reject (with a short excerpt, not the whole line), and the line
  // after it is processed.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  expect_rejects(input, {2}, "long");
  EXPECT_LT(fs::file_size(out_ / "rejects.jsonl"), 64u << 10);
  EXPECT_TRUE(check_exactly_once(out_, "math", good));
  EXPECT_EQ(server_.chat_request_count(), 2u);
}

TEST_F(BadInput, AnEmptyFileWarnsAndWritesNothing) {
  // Given an empty input file,
  auto input = write_raw("empty.jsonl", "");
  // when synth runs (not quiet, so warnings show),
  Result r = synth(input, false);
  // then it succeeds with a warning naming the file, and no records and no requests.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  EXPECT_NE(r.err.find("empty.jsonl"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("warn"), std::string::npos) << r.err;
  EXPECT_TRUE(check_exactly_once(out_, "math", {}));
  EXPECT_TRUE(shard_files(out_, "math").empty());
  EXPECT_FALSE(fs::exists(out_ / "rejects.jsonl"));
  EXPECT_EQ(server_.chat_request_count(), 0u);
}

// PRODUCT BUG (src/synth.cpp, reported to the lead): a file holding only blank lines, or only a
// BOM, has no records just like an empty file, but ends silently, without the warning. The
// warning is given only when the input's first line is still the next one to read.
TEST_F(BadInput, AFileOfOnlyBlankLinesOrABomWarnsLikeAnEmptyFile) {
  for (const auto& [name, raw] : std::vector<std::pair<std::string, std::string>>{
           {"blank.jsonl", "\n  \n\t\n\r\n"}, {"bom.jsonl", "\xEF\xBB\xBF"}}) {
    SCOPED_TRACE(name);
    // Given a file with no records in it, when synth runs,
    auto input = write_raw(name, raw);
    out_ = dir_ / ("out-" + name);
    Result r = synth(input, false);
    // then it succeeds with the warning naming the file, and no records and no rejects.
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(no_crash_output(r.err));
    EXPECT_NE(r.err.find(name + ": the input has no records"), std::string::npos) << r.err;
    EXPECT_TRUE(check_exactly_once(out_, "math", {}));
    EXPECT_FALSE(fs::exists(out_ / "rejects.jsonl"));
  }
  EXPECT_EQ(server_.chat_request_count(), 0u);
}

TEST_F(BadInput, TheLastLineNeedsNoNewline) {
  // Given a file whose last line has no line terminator,
  std::vector<std::string> good = personas(3);
  auto input =
      write_raw("in.jsonl", line_of(good[0]) + "\n" + line_of(good[1]) + "\r\n" + line_of(good[2]));
  // when synth runs, then that line is processed like the others.
  Result r = synth(input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(check_exactly_once(out_, "math", good));
  EXPECT_FALSE(fs::exists(out_ / "rejects.jsonl"));
}

TEST_F(BadInput, CrlfLineEndingsAndAByteOrderMarkSimplyWork) {
  // Given a file that starts with a UTF-8 BOM and ends its lines with CRLF,
  std::vector<std::string> good = personas(5);
  std::string raw = "\xEF\xBB\xBF";
  for (const auto& p : good) raw += line_of(p) + "\r\n";
  auto input = write_raw("windows.jsonl", raw);
  // when synth runs,
  Result r = synth(input);
  // then every persona is processed as it is (no BOM, no CR in it), and nothing is rejected.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  EXPECT_TRUE(check_exactly_once(out_, "math", good));
  EXPECT_FALSE(fs::exists(out_ / "rejects.jsonl") && fs::file_size(out_ / "rejects.jsonl") > 0);
}

// A truncated compressed file: one error line naming the file and the offset, exit code 1; and
// once the file is whole again, the same command finishes the job exactly once. The personas
// carry 2 KB of random hex each, so the file holds several of the reader's 1 MB buffers: the
// lines before the cut are processed (and checkpointed) before the error, and the rerun
// resumes in the middle of the compressed stream.
class TruncatedInput : public BadInput {
 protected:
  void SetUp() override {
    BadInput::SetUp();
    std::mt19937_64 rng(42);
    for (int i = 0; i < 700; ++i) {
      char hex[17];
      std::string noise;
      while (noise.size() < 2000) {
        std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
        noise += hex;
      }
      all_.push_back("A compressed persona " + std::to_string(i) + " " + noise);
      plain_ += line_of(all_.back()) + "\n";
    }
  }

  void check(const std::string& name, const std::string& whole) {
    // when synth reads the file cut at seven eighths,
    size_t cut = whole.size() * 7 / 8;
    auto input = write_raw(name, whole.substr(0, cut));
    std::vector<std::string> args{"synth", "-i", input, "-t", "math", "-o", out_, "-q"};
    args.insert(args.end(), {"-j", "32", "--shard-size", "200", "--checkpoint-interval", "0.05"});
    Result r = run(args, server_.base_url());

    // then it fails with exit code 1 and one line naming the file and an offset in it,
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(no_crash_output(r.err));
    std::vector<std::string> err = lines(r.err);
    ASSERT_EQ(err.size(), 1u) << r.err;
    EXPECT_NE(err[0].find(name), std::string::npos) << r.err;
    EXPECT_NE(err[0].find("error"), std::string::npos) << r.err;
    size_t at = err[0].find("offset ");
    ASSERT_NE(at, std::string::npos) << r.err;
    EXPECT_LE(std::stoull(err[0].substr(at + 7)), cut) << r.err;
    // after processing the lines before the cut;
    size_t before = server_.chat_request_count();
    EXPECT_GT(before, 0u);
    EXPECT_TRUE(check_checkpoint_prefixes(out_, "math"));

    // and once the file is whole again, the same command completes exactly once.
    write_raw(name, whole);
    Result again = run(args, server_.base_url());
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_TRUE(no_crash_output(again.err));
    EXPECT_TRUE(check_exactly_once(out_, "math", all_));
    EXPECT_LT(server_.chat_request_count() - before, all_.size());
  }

  std::vector<std::string> all_;
  std::string plain_;
};

TEST_F(TruncatedInput, ACutOffGzipFileIsOneClearErrorAndResumesWhenWhole) {
  // Given a .gz file (written with zlib),
  std::string gz(compressBound(plain_.size()) + 64, '\0');
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(plain_.data());
  z.avail_in = static_cast<uInt>(plain_.size());
  z.next_out = reinterpret_cast<Bytef*>(gz.data());
  z.avail_out = static_cast<uInt>(gz.size());
  ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  gz.resize(z.total_out);
  deflateEnd(&z);
  check("in.jsonl.gz", gz);
}

TEST_F(TruncatedInput, ACutOffZstdFileIsOneClearErrorAndResumesWhenWhole) {
  // Given a .zst file (written with libzstd),
  std::string zst(ZSTD_compressBound(plain_.size()), '\0');
  size_t size = ZSTD_compress(zst.data(), zst.size(), plain_.data(), plain_.size(), 1);
  ASSERT_FALSE(ZSTD_isError(size));
  zst.resize(size);
  check("in.jsonl.zst", zst);
}

TEST_F(BadInput, AMissingFileIsAUsageErrorNamingIt) {
  // Given a path to nothing, when synth runs,
  Result r = synth(dir_ / "no-such-file.jsonl");
  // then it exits 2 with one line naming the file, having started nothing.
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  ASSERT_EQ(lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("no-such-file.jsonl"), std::string::npos) << r.err;
  EXPECT_EQ(server_.chat_request_count(), 0u);
}

TEST_F(BadInput, ADirectoryAsInputIsAUsageErrorNamingIt) {
  // Given a directory where the input file should be, when synth runs,
  fs::create_directory(dir_ / "a-directory");
  Result r = synth(dir_ / "a-directory");
  // then it exits 2 with one line naming it, having started nothing.
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(no_crash_output(r.err));
  ASSERT_EQ(lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("a-directory"), std::string::npos) << r.err;
  EXPECT_EQ(server_.chat_request_count(), 0u);
}

// The --summary file is what cron reads. A start-up error (exit 2) must replace the summary of
// the run before, or cron reads that run's "ok".
class StartUpError : public BadInput {
 protected:
  void SetUp() override {
    BadInput::SetUp();
    summary_ = dir_ / "summary.json";
    input_ = write_raw("in.jsonl", line_of("A nurse") + "\n" + line_of("A farmer") + "\n");
  }

  // Runs synth with `extra` flags after a summary that says "ok", and returns the summary the
  // run left.
  json summary_after(const Result& r) {
    EXPECT_TRUE(no_crash_output(r.err));
    return json::parse(read_file(summary_));
  }
  Result synth_with(std::vector<std::string> extra, const fs::path& input,
                    const std::map<std::string, std::string>& env = {}) {
    std::ofstream(summary_) << R"({"status":"ok","exit_code":0})"
                            << "\n";
    std::vector<std::string> args{"synth", "-i", input,       "-t",     "math",
                                  "-o",    out_, "--summary", summary_, "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args, server_.base_url(), env);
  }

  // The summary says the run failed with exit code 2 and the message holds `word`.
  void expect_error_summary(const Result& r, const std::string& word) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    json s = summary_after(r);
    EXPECT_EQ(s["status"], "error") << s.dump();
    EXPECT_EQ(s["exit_code"], 2) << s.dump();
    EXPECT_NE(s.value("message", "").find(word), std::string::npos) << s.dump();
    EXPECT_EQ(s["output"], out_.string()) << s.dump();
  }

  fs::path summary_;
  fs::path input_;
};

TEST_F(StartUpError, EveryStartUpErrorReplacesTheSummary) {
  // Given a finished run whose summary says ok,
  Result first = synth_with({}, input_);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(summary_after(first)["status"], "ok");

  // when the same output is asked with a changed configuration, then the refusal is the summary,
  expect_error_summary(synth_with({"--model", "another-model"}, input_), "model");
  // and so is a missing input file,
  expect_error_summary(synth_with({}, dir_ / "no-such-file.jsonl"), "no-such-file.jsonl");
  // a bad --where,
  expect_error_summary(synth_with({"--where", "no-equals-sign"}, input_), "no-equals-sign");
  // an API key file that is not there (named by its flag: the path may be the key itself),
  expect_error_summary(synth_with({"--api-key-file", dir_ / "no-key"}, input_),
                       "--api-key-file: cannot read the file");
  // and a template file that is not there.
  std::vector<std::string> custom{"synth", "-i", input_,      "--template", dir_ / "no.txt",
                                  "-o",    out_, "--summary", summary_,     "-q"};
  std::ofstream(summary_) << R"({"status":"ok","exit_code":0})"
                          << "\n";
  expect_error_summary(run(custom, server_.base_url()), "no.txt");
  // Nothing was asked of the server after the first run.
  EXPECT_EQ(server_.chat_request_count(), 2u);
}

TEST_F(StartUpError, TheSummaryNeverShowsTheApiKey) {
  // Given an API key that happens to appear in an error message (here, in the missing input's
  // path),
  const std::string key = "sk-summary-secret-42";
  // when synth fails at start-up,
  Result r = synth_with({}, dir_ / (key + ".jsonl"), {{"OPENAI_API_KEY", key}});
  // then the summary reports the error with the key masked.
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::string text = read_file(summary_);
  EXPECT_EQ(text.find(key), std::string::npos) << text;
  EXPECT_NE(json::parse(text)["message"].get<std::string>().find("***.jsonl"), std::string::npos)
      << text;
}

TEST_F(StartUpError, AnExpansionThatCannotStartNamesItsFirstHop) {
  // Given persona-to-persona over two hops with a missing input,
  Result r = run({"synth", "-t", "persona-to-persona", "-i", dir_ / "missing.jsonl", "--hops", "2",
                  "-o", out_, "--summary", summary_, "-q"},
                 server_.base_url());
  // when it fails at start-up, then the summary says so, and that hop 1 is where it stopped.
  EXPECT_EQ(r.exit_code, 2) << r.err;
  json s = summary_after(r);
  EXPECT_EQ(s["status"], "error") << s.dump();
  EXPECT_EQ(s["exit_code"], 2) << s.dump();
  EXPECT_NE(s.value("message", "").find("missing.jsonl"), std::string::npos) << s.dump();
  EXPECT_EQ(s["failed_hop"], 1) << s.dump();
  ASSERT_EQ(s["hops"].size(), 1u) << s.dump();
  EXPECT_EQ(s["hops"][0]["status"], "error") << s.dump();
  EXPECT_EQ(s["hops"][0]["output"], (out_ / "hop-1").string()) << s.dump();
}

}  // namespace
}  // namespace personagen::e2e
