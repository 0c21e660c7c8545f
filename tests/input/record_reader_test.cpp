#include "input/record_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "input/byte_source.h"
#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

std::string gzip(const std::string& data) {
  z_stream stream{};
  // 15 + 16: a gzip header and trailer rather than zlib's.
  EXPECT_EQ(deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// Lines of varied hex text that compress poorly, so compressed inputs span several buffers.
std::string many_lines(int count) {
  std::string out;
  uint64_t state = 42;
  for (int i = 0; i < count; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(state));
    out += "{\"persona\": \"person " + std::to_string(i) + " " + hex + hex + "\"}\n";
  }
  return out;
}

std::vector<InputRecord> read_all(RecordReader& reader) {
  std::vector<InputRecord> records;
  while (auto record = reader.next()) records.push_back(std::move(*record));
  return records;
}

std::string read_all(ByteSource& source, size_t chunk) {
  std::string out;
  std::vector<char> buffer(chunk);
  while (size_t n = source.read(buffer.data(), buffer.size())) out.append(buffer.data(), n);
  return out;
}

class RecordReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "record_reader_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::vector<InputRecord> read_file(const std::string& name, const std::string& bytes,
                                     ReaderOptions options = {}) {
    RecordReader reader(write(name, bytes), std::move(options));
    return read_all(reader);
  }

  fs::path dir_;
};

TEST_F(RecordReaderTest, PlainFileGivesPersonasWithLinesAndOffsets) {
  // Given two lines of Persona Hub JSONL
  const std::string text = "{\"persona\": \"a nurse\"}\n{\"persona\": \"a chef\"}\n";
  // When they are read
  RecordReader reader(write("p.jsonl", text), {});
  auto records = read_all(reader);
  // Then each is a record with its line number and byte offset
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(records[0].ok());
  EXPECT_EQ(records[0].persona, "a nurse");
  EXPECT_EQ(records[0].line, 1u);
  EXPECT_EQ(records[0].offset, 0u);
  EXPECT_EQ(records[1].persona, "a chef");
  EXPECT_EQ(records[1].line, 2u);
  EXPECT_EQ(records[1].offset, 23u);
  EXPECT_EQ(reader.position().line, 3u);
  EXPECT_EQ(reader.position().offset, text.size());
  EXPECT_EQ(reader.raw_size(), text.size());
  EXPECT_EQ(reader.raw_bytes_read(), text.size());
}

TEST_F(RecordReaderTest, GzipAndZstdAreDetectedByTheirMagicBytes) {
  // Given the same lines as gzip, zstd and plain text, under misleading names
  const std::string text = many_lines(3);
  for (const auto& [name, bytes] :
       {std::pair{"gz.jsonl", gzip(text)}, {"zst.txt", zstd(text)}, {"plain.gz", text}}) {
    // When each is read
    RecordReader reader(write(name, bytes), {});
    auto records = read_all(reader);
    // Then all three give the same records, and progress counts the compressed bytes
    ASSERT_EQ(records.size(), 3u) << name;
    EXPECT_EQ(records[2].persona.substr(0, 9), "person 2 ") << name;
    EXPECT_EQ(records[2].offset, text.find("{\"persona\": \"person 2")) << name;
    EXPECT_EQ(reader.position().offset, text.size()) << name;
    EXPECT_EQ(reader.raw_size(), bytes.size()) << name;
    EXPECT_EQ(reader.raw_bytes_read(), bytes.size()) << name;
  }
}

TEST_F(RecordReaderTest, ConcatenatedGzipMembersAndZstdFramesAreReadInFull) {
  // Given `cat a.gz b.gz` and `cat a.zst b.zst`, large enough to span several read buffers
  const std::string a = many_lines(40000), b = many_lines(5);
  for (const auto& [name, bytes] :
       {std::pair{"ab.gz", gzip(a) + gzip(b)}, {"ab.zst", zstd(a) + zstd(b)}}) {
    // When they are read
    auto records = read_file(name, bytes);
    // Then both parts come out, in order
    ASSERT_EQ(records.size(), 40005u) << name;
    EXPECT_EQ(records[40000].line, 40001u) << name;
    EXPECT_EQ(records[40000].offset, a.size()) << name;
    EXPECT_EQ(records[40004].persona.substr(0, 9), "person 4 ") << name;
  }
}

TEST_F(RecordReaderTest, ByteSourceReplaysSniffedBytesWithAnyReadSize) {
  // Given a two-member gzip, a two-frame zstd and a plain input
  const std::string text = many_lines(50);
  for (const std::string& bytes : {gzip(text) + gzip(text), zstd(text) + zstd(text), text + text}) {
    for (size_t chunk : {1u, 7u, 4096u}) {
      // When it is read through a pipe in small pieces
      int fds[2];
      ASSERT_EQ(pipe(fds), 0);
      std::thread writer([&] {
        EXPECT_EQ(::write(fds[1], bytes.data(), bytes.size()), ssize_t(bytes.size()));
        close(fds[1]);
      });
      auto source = open_byte_source(fds[0], "pipe", true);
      std::string out = read_all(*source, chunk);
      writer.join();
      // Then the bytes come out whole, and the size of a pipe is unknown
      EXPECT_EQ(out, text + text) << "chunk " << chunk;
      EXPECT_EQ(source->raw_size(), 0u);
      EXPECT_EQ(source->raw_bytes_read(), bytes.size());
    }
  }
}

TEST_F(RecordReaderTest, DashReadsStdinEvenWhenCompressed) {
  // Given gzip data on stdin, from a pipe
  const std::string text = "{\"persona\": \"from stdin\"}\n";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int saved = dup(STDIN_FILENO);
  ASSERT_EQ(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
  close(fds[0]);
  std::thread writer([&] {
    std::string bytes = gzip(text);
    EXPECT_EQ(::write(fds[1], bytes.data(), bytes.size()), ssize_t(bytes.size()));
    close(fds[1]);
  });
  // When "-" is read
  std::vector<InputRecord> records;
  uint64_t size = 1;
  {
    RecordReader reader("-", {});
    records = read_all(reader);
    size = reader.raw_size();
  }
  writer.join();
  dup2(saved, STDIN_FILENO);
  close(saved);
  // Then the record arrives, and stdin has no known size
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].persona, "from stdin");
  EXPECT_EQ(size, 0u);
}

TEST_F(RecordReaderTest, BomCrlfBlankLinesAndAMissingFinalNewlineAreAccepted) {
  // Given a BOM, CRLF endings, blank lines and no newline at the end
  const std::string text =
      "\xEF\xBB\xBF{\"persona\": \"one\"}\r\n\r\n   \n\t\r\n{\"persona\": \"two\"}\r\n"
      "{\"persona\": \"three\"}";
  // When it is read
  auto records = read_file("p.jsonl", text);
  // Then the blank lines are skipped but counted
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].persona, "one");
  EXPECT_TRUE(records[0].ok());
  EXPECT_EQ(records[0].line, 1u);
  EXPECT_EQ(records[1].persona, "two");
  EXPECT_EQ(records[1].line, 5u);
  EXPECT_EQ(records[2].persona, "three");
  EXPECT_EQ(records[2].line, 6u);
  EXPECT_EQ(records[2].offset, text.find("{\"persona\": \"three"));
}

TEST_F(RecordReaderTest, EmptyInputGivesNoRecords) {
  // Given an empty plain file, an empty gzip stream, and files of blank lines and a BOM
  for (const auto& [name, bytes] : {std::pair{"empty.jsonl", std::string()},
                                    {"empty.gz", gzip("")},
                                    {"blank.jsonl", "\n \n"},
                                    {"bom.jsonl", "\xEF\xBB\xBF\r\n"}}) {
    // When they are read
    RecordReader reader(write(name, bytes), {});
    // Then there is nothing, and no error
    EXPECT_FALSE(reader.next().has_value()) << name;
  }
}

TEST_F(RecordReaderTest, BadLinesAreRejectsWithReasonLineAndExcerpt) {
  // Given one bad line of each kind, then a good one
  const std::string text =
      "{\"persona\": \"ok\"\n"             // 1: cut-off JSON
      "[\"persona\", \"x\"]\n"             // 2: not an object
      "{\"name\": \"x\"}\n"                // 3: no persona field
      "{\"persona\": 42}\n"                // 4: not a string
      "{\"persona\": \"  \\t \"}\n"        // 5: empty
      "{\"persona\": \"caf\xE9 \xFF\"}\n"  // 6: Latin-1, not UTF-8
      "\"just a string\"\n"                // 7: not an object
      "{\"persona\": \"fine\"}\n";
  // When it is read
  auto records = read_file("bad.jsonl", text);
  // Then every bad line is a reject that says why, and the good line still comes through
  ASSERT_EQ(records.size(), 8u);
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_FALSE(records[i].ok()) << i;
    EXPECT_EQ(records[i].line, i + 1);
  }
  EXPECT_EQ(records[0].reject.rfind("not valid JSON: ", 0), 0u) << records[0].reject;
  EXPECT_EQ(records[0].excerpt, "{\"persona\": \"ok\"");
  EXPECT_EQ(records[1].reject, "not a JSON object (an array)");
  EXPECT_EQ(records[2].reject, "missing field \"persona\" or \"input persona\"");
  EXPECT_EQ(records[3].reject, "field \"persona\" is not a string but a number");
  EXPECT_EQ(records[4].reject, "field \"persona\" is empty");
  EXPECT_NE(records[5].reject.find("invalid UTF-8"), std::string::npos) << records[5].reject;
  EXPECT_EQ(records[5].excerpt, "{\"persona\": \"caf\xEF\xBF\xBD \xEF\xBF\xBD\"}");
  EXPECT_EQ(records[5].offset, text.find("{\"persona\": \"caf"));
  EXPECT_EQ(records[6].reject, "not a JSON object (a string)");
  EXPECT_TRUE(records[7].ok());
  EXPECT_EQ(records[7].line, 8u);
}

TEST_F(RecordReaderTest, EscapesAndUnusualJsonGiveTheSameRecordsAsPlainLines) {
  // Given lines that need full JSON parsing (escapes, floats, nesting, odd spacing)
  const std::string text =
      "{\"persona\": \"a \\\"quoted\\\" caf\\u00e9 nurse\\n\", \"id\": -0}\n"
      " {\"n\": 1.5e3, \"a\": [1, {\"persona\": \"nested\"}], \"persona\": \"\xF0\x9F\x98\x80\"} \n"
      "{\"persona\": \"first\", \"persona\": \"last\", \"id\": 123456789012345678901}\n"
      "{}\n";
  // When it is read
  auto records = read_file("escapes.jsonl", text);
  // Then values are unescaped, only top-level fields count, and the last duplicate wins
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].persona, "a \"quoted\" caf\xC3\xA9 nurse\n");
  EXPECT_EQ(records[0].id, "0");
  EXPECT_EQ(records[1].persona, "\xF0\x9F\x98\x80");
  EXPECT_EQ(records[2].persona, "last");
  EXPECT_EQ(records[2].id, "");  // too large for an integer, so it is a float
  EXPECT_EQ(records[3].reject, "missing field \"persona\" or \"input persona\"");
}

TEST_F(RecordReaderTest, NearlyValidLinesAreRejected) {
  // Given lines that are almost JSON objects
  const std::vector<std::string> lines = {"{\"persona\": \"a\", \"id\": 01}",
                                          "{\"persona\": \"a\"} x",
                                          "{\"persona\": truex}",
                                          "{\"persona\": \"a\",}",
                                          "{\"persona\": \"a\"}}",
                                          "{\"persona\": \"a\x01\"}",
                                          "{\"persona\": \"a\\q\"}",
                                          "{\"persona\": \"a\xED\xA0\x80\"}",
                                          "{\"persona\": -}",
                                          "{\"persona\" \"a\"}",
                                          "{",
                                          "{\"persona\": \"a\""};
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  // When they are read
  auto records = read_file("nearly.jsonl", text);
  // Then each is a reject for invalid JSON
  ASSERT_EQ(records.size(), lines.size());
  for (const InputRecord& record : records) {
    EXPECT_EQ(record.reject.rfind("not valid JSON: ", 0), 0u)
        << record.line << ": " << record.reject;
  }
}

TEST_F(RecordReaderTest, ExcerptIsShortAndValidUtf8) {
  // Given a long invalid line of multi-byte characters
  std::string line = "{";
  for (int i = 0; i < 300; ++i) line += "\xC3\xA9";  // é
  // When it is read
  auto records = read_file("p.jsonl", line + "\n");
  // Then the excerpt stops at about 200 bytes, on a character boundary
  ASSERT_EQ(records.size(), 1u);
  EXPECT_FALSE(records[0].ok());
  EXPECT_EQ(records[0].excerpt, "{" + line.substr(1, 198));
}

TEST_F(RecordReaderTest, OverLongLinesAreSkippedAndTheNextLineIsRead) {
  // Given a 10 MB line between two good lines, and the default 8 MiB limit
  const std::string huge = "{\"persona\": \"" + std::string(10 << 20, 'x') + "\"}\n";
  const std::string text = "{\"persona\": \"before\"}\n" + huge + "{\"persona\": \"after\"}\n";
  // When it is read
  RecordReader reader(write("huge.jsonl", text), {});
  auto records = read_all(reader);
  // Then the long line is a reject with a short excerpt, and the next line is read
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].reject, "line is longer than 8388608 bytes");
  EXPECT_EQ(records[1].line, 2u);
  EXPECT_EQ(records[1].offset, 22u);
  EXPECT_EQ(records[1].excerpt, huge.substr(0, 200));
  EXPECT_EQ(records[2].persona, "after");
  EXPECT_EQ(records[2].line, 3u);
  EXPECT_EQ(records[2].offset, 22u + huge.size());
  EXPECT_EQ(reader.position().offset, text.size());
}

TEST_F(RecordReaderTest, OverLongLastLineWithoutANewlineIsOneReject) {
  // Given inputs whose last line is over the limit, has no final newline, and goes on past the
  // first read (the 1 MiB buffer) by a few bytes, by a whole buffer, or by less than one
  ReaderOptions small;
  small.max_line_bytes = 30;
  const std::string first = "{\"persona\": \"first\"}\n";
  for (size_t length : {size_t{1} << 20, (size_t{1} << 20) + 17, size_t{3} << 20, size_t{40}}) {
    const std::string text = first + std::string(length, 'x');
    // When it is read to the end
    RecordReader reader(write("last.jsonl", text), small);
    auto records = read_all(reader);
    // Then the long line is one reject, with no phantom line after it, and the reader is at the end
    ASSERT_EQ(records.size(), 2u) << "a last line of " << length << " bytes";
    EXPECT_EQ(records[1].reject, "line is longer than 30 bytes");
    EXPECT_EQ(records[1].line, 2u);
    EXPECT_EQ(reader.position().line, 3u);
    EXPECT_EQ(reader.position().offset, text.size());
  }
}

TEST_F(RecordReaderTest, LineLimitIsExactAndLongLinesWithinItAreRead) {
  // Given a limit of 30 bytes and a 3 MB limit, and lines on either side of them
  const std::string fits = "{\"persona\": \"" + std::string(15, 'a') + "\"}";  // 30 bytes
  const std::string over = "{\"persona\": \"" + std::string(16, 'a') + "\"}";  // 31 bytes
  const std::string big = "{\"persona\": \"" + std::string(3000000, 'b') + "\"}";
  ReaderOptions small;
  small.max_line_bytes = 30;
  ReaderOptions large;
  large.max_line_bytes = 3000015;
  // When they are read, with CRLF and at the end of the input without a newline
  auto a = read_file("a.jsonl", fits + "\r\n" + over + "\r\n" + big + "\n" + over, small);
  auto b = read_file("b.jsonl", big + "\n" + big + "x", large);
  // Then a line of exactly the limit is accepted, one byte more is not
  ASSERT_EQ(a.size(), 4u);
  EXPECT_TRUE(a[0].ok());
  EXPECT_EQ(a[1].reject, "line is longer than 30 bytes");
  EXPECT_EQ(a[2].reject, "line is longer than 30 bytes");
  EXPECT_EQ(a[3].reject, "line is longer than 30 bytes");
  EXPECT_EQ(a[3].line, 4u);
  // And a line longer than the read buffer but within the limit is read whole
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].persona.size(), 3000000u);
  EXPECT_EQ(b[1].reject, "line is longer than 3000015 bytes");
  EXPECT_EQ(b[1].offset, big.size() + 1);
}

TEST_F(RecordReaderTest, MissingFileIsAUsageErrorNamingTheFile) {
  // Given a path that does not exist, and a directory
  std::string missing = (dir_ / "personas.jsonl").string();
  // When they are opened
  ExitCode code = ExitCode::ok;
  std::string message = error_of([&] { RecordReader reader(missing, {}); }, &code);
  std::string directory = error_of([&] { RecordReader reader(dir_.string(), {}); });
  // Then the errors name the file and the reason
  EXPECT_EQ(message, missing + ": cannot open: No such file or directory");
  EXPECT_EQ(code, ExitCode::usage);
  EXPECT_EQ(directory, dir_.string() + ": cannot open: Is a directory");
}

TEST_F(RecordReaderTest, TruncatedOrCorruptCompressedInputIsAnErrorWithTheOffset) {
  // Given a gzip and a zstd file cut in the middle, and a gzip file with a damaged body
  const std::string text = many_lines(2000);
  const std::string gz = gzip(text), zst = zstd(text);
  std::string damaged = gz;
  for (size_t i = 100; i < 200; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x55);
  std::string cut_gz = write("cut.jsonl.gz", gz.substr(0, gz.size() / 2));
  std::string cut_zst = write("cut.jsonl.zst", zst.substr(0, zst.size() / 2));
  std::string bad_gz = write("bad.jsonl.gz", damaged);
  std::string no_trailer = write("trailer.gz", gz.substr(0, gz.size() - 4));
  for (const std::string& path : {cut_gz, cut_zst, bad_gz, no_trailer}) {
    // When they are read to the end
    ExitCode code = ExitCode::ok;
    std::string message = error_of(
        [&] {
          RecordReader reader(path, {});
          read_all(reader);
        },
        &code);
    // Then the error names the file, what is wrong and where
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(" stream at compressed offset "), std::string::npos) << message;
    EXPECT_EQ(code, ExitCode::error);
  }
  EXPECT_EQ(
      error_of([&] {
        RecordReader r(cut_gz, {});
        read_all(r);
      }),
      cut_gz + ": truncated gzip stream at compressed offset " + std::to_string(gz.size() / 2));
  EXPECT_EQ(
      error_of([&] {
        RecordReader r(cut_zst, {});
        read_all(r);
      }),
      cut_zst + ": truncated zstd stream at compressed offset " + std::to_string(zst.size() / 2));
}

TEST_F(RecordReaderTest, ResumeYieldsExactlyTheRemainingLines) {
  // Given plain, gzip and zstd inputs with a blank line, and a position taken after 1000 records
  std::string text = many_lines(1000) + "\n" + many_lines(1500);
  for (const auto& [name, bytes] :
       {std::pair{"p.jsonl", text}, {"p.jsonl.gz", gzip(text)}, {"p.jsonl.zst", zstd(text)}}) {
    std::string path = write(name, bytes);
    ReadPosition checkpoint;
    std::vector<InputRecord> expected;
    {
      RecordReader reader(path, {});
      for (int i = 0; i < 1000; ++i) ASSERT_TRUE(reader.next());
      checkpoint = reader.position();
      expected = read_all(reader);
    }
    // When a new reader starts from that position
    RecordReader resumed(path, {}, checkpoint);
    auto records = read_all(resumed);
    // Then it yields exactly the rest, with the same line numbers and offsets
    ASSERT_EQ(records.size(), 1500u) << name;
    ASSERT_EQ(expected.size(), 1500u) << name;
    EXPECT_EQ(records[0].line, 1002u) << name;
    for (size_t i = 0; i < records.size(); ++i) {
      ASSERT_EQ(records[i].line, expected[i].line) << name;
      ASSERT_EQ(records[i].offset, expected[i].offset) << name;
      ASSERT_EQ(records[i].persona, expected[i].persona) << name;
    }
    EXPECT_EQ(resumed.position().offset, text.size());
  }
}

TEST_F(RecordReaderTest, ResumeAtTheEndGivesNothingAndBeyondItIsAnError) {
  // Given an input whose last line has no newline
  const std::string text = "{\"persona\": \"a\"}\n{\"persona\": \"b\"}";
  for (const auto& [name, bytes] : {std::pair{"p.jsonl", text}, {"p.gz", gzip(text)}}) {
    std::string path = write(name, bytes);
    // When resuming at its end, past its end, and in the middle of a line
    RecordReader at_end(path, {}, {3, text.size()});
    std::string beyond = error_of([&] { RecordReader r(path, {}, {3, text.size() + 1}); });
    std::string inside = error_of([&] { RecordReader r(path, {}, {2, 5}); });
    // Then the first is simply done, and the others say the input changed
    EXPECT_FALSE(at_end.next().has_value()) << name;
    EXPECT_EQ(beyond, path +
                          ": input changed since the checkpoint: offset 34 is beyond the end "
                          "of the input")
        << name;
    EXPECT_EQ(inside, path +
                          ": input changed since the checkpoint: offset 5 is not the start "
                          "of a line")
        << name;
  }
}

TEST_F(RecordReaderTest, PersonaFieldIsTheFirstPresentOfTheList) {
  // Given Persona Hub synthesized lines and Nemotron-style lines with several persona columns
  const std::string text =
      "{\"input persona\": \"hub\", \"synthesized text\": \"...\"}\n"
      "{\"professional_persona\": \"pro\", \"persona\": \"general\"}\n"
      "{\"persona\": \"general only\"}\n";
  // When read with the default list, and with a custom list
  auto defaults = read_file("a.jsonl", text);
  ReaderOptions custom;
  custom.persona_fields = {"professional_persona", "persona"};
  auto chosen = read_file("b.jsonl", text, custom);
  // Then the fallback and the order of the list decide
  ASSERT_EQ(defaults.size(), 3u);
  EXPECT_EQ(defaults[0].persona, "hub");
  EXPECT_EQ(defaults[1].persona, "general");
  ASSERT_EQ(chosen.size(), 3u);
  EXPECT_EQ(chosen[0].reject, "missing field \"professional_persona\" or \"persona\"");
  EXPECT_EQ(chosen[1].persona, "pro");
  EXPECT_EQ(chosen[2].persona, "general only");
}

TEST_F(RecordReaderTest, IdComesFromIdElseUuid) {
  // Given FinePersonas ids, Nemotron uuids, integer ids and unusable ids
  const std::string text =
      "{\"id\": \"fp-1\", \"persona\": \"a\", \"uuid\": \"u-0\"}\n"
      "{\"uuid\": \"5f0c\", \"persona\": \"b\"}\n"
      "{\"id\": 123456789012, \"persona\": \"c\"}\n"
      "{\"id\": 1.5, \"persona\": \"d\", \"uuid\": \"u-4\"}\n"
      "{\"id\": {\"x\": 1}, \"persona\": \"e\"}\n";
  // When it is read
  auto records = read_file("ids.jsonl", text);
  // Then "id" wins, "uuid" is the fallback, integers become text, other types are ignored
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].id, "fp-1");
  EXPECT_EQ(records[1].id, "5f0c");
  EXPECT_EQ(records[2].id, "123456789012");
  EXPECT_EQ(records[3].id, "u-4");
  EXPECT_EQ(records[4].id, "");
  EXPECT_TRUE(records[4].ok());
}

TEST_F(RecordReaderTest, ExtraFieldsAreCopiedInTheOrderAsked) {
  // Given lines with domain fields of several types, nested values and some missing
  const std::string text =
      "{\"persona\": \"a\", \"labels\": [\"x\"], \"domain\": \"math\", \"level\": 3,"
      " \"score\": 0.50, \"elite\": true, \"meta\": {\"domain\": \"nested\"}}\n"
      "{\"persona\": \"b\", \"domain\": \"bio\"}\n"
      "{\"persona\": \"c\", \"domain\": null, \"level\": 1, \"score\": 1, \"elite\": false}\n"
      "{\"persona\": \"d\", \"domain\": [], \"level\": 1, \"score\": 1, \"elite\": false}\n";
  ReaderOptions options;
  options.extra_fields = {"elite", "domain", "level", "score"};
  // When it is read
  auto records = read_file("extra.jsonl", text, options);
  // Then strings are copied as is, other scalars as JSON text, and a missing or unusable field is
  // a reject
  ASSERT_EQ(records.size(), 4u);
  ASSERT_TRUE(records[0].ok()) << records[0].reject;
  using Fields = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(records[0].fields,
            (Fields{{"elite", "true"}, {"domain", "math"}, {"level", "3"}, {"score", "0.50"}}));
  EXPECT_EQ(records[1].reject, "missing field \"elite\"");
  EXPECT_EQ(records[2].reject, "field \"domain\" is not a string, number or boolean but null");
  EXPECT_EQ(records[3].reject, "field \"domain\" is not a string, number or boolean but an array");
  EXPECT_TRUE(records[1].fields.empty());
}

TEST_F(RecordReaderTest, OptionalFieldsAreCopiedWhenPresentAndNeverReject) {
  // Given lines where the optional fields are scalars, missing, null, nested or escaped, in
  // both the fast-path shape and one that needs the full parser
  const std::string text =
      "{\"persona\": \"a\", \"level\": 3, \"domain\": \"math\", \"elite\": true}\n"
      "{\"persona\": \"b\"}\n"
      "{\"persona\": \"c\", \"domain\": null, \"level\": 1.50}\n"
      "{\"persona\": \"d\", \"domain\": [\"x\"], \"level\": {\"n\": 1}, \"elite\": false}\n"
      "{\"persona\": \"e\", \"domain\": \"bio\\u00e9\", \"meta\": {\"domain\": \"nested\"}}\n";
  ReaderOptions options;
  options.optional_fields = {"domain", "level", "elite"};
  // When it is read
  auto records = read_file("optional.jsonl", text, options);
  // Then every line is a record; present scalars are copied in the order asked, strings as is
  // and others as JSON text; missing, null, objects and arrays are left out
  using Fields = std::vector<std::pair<std::string, std::string>>;
  ASSERT_EQ(records.size(), 5u);
  for (const auto& record : records) ASSERT_TRUE(record.ok()) << record.reject;
  EXPECT_EQ(records[0].fields, (Fields{{"domain", "math"}, {"level", "3"}, {"elite", "true"}}));
  EXPECT_EQ(records[1].fields, Fields{});
  EXPECT_EQ(records[2].fields, (Fields{{"level", "1.50"}}));
  EXPECT_EQ(records[3].fields, (Fields{{"elite", "false"}}));
  EXPECT_EQ(records[4].fields, (Fields{{"domain", "bio\u00e9"}}));
}

TEST_F(RecordReaderTest, OptionalFieldsFollowExtraFieldsAndAreCopiedOnce) {
  // Given a required extra field and optional fields that repeat it and each other
  const std::string text =
      "{\"persona\": \"a\", \"topic\": \"t\", \"domain\": \"math\"}\n"
      "{\"persona\": \"b\", \"domain\": \"bio\"}\n";
  ReaderOptions options;
  options.extra_fields = {"topic"};
  options.optional_fields = {"domain", "topic", "domain", "persona"};
  // When it is read
  auto records = read_file("both.jsonl", text, options);
  // Then the extra fields come first, each name appears once, and a missing extra field is still
  // a reject
  using Fields = std::vector<std::pair<std::string, std::string>>;
  ASSERT_EQ(records.size(), 2u);
  ASSERT_TRUE(records[0].ok()) << records[0].reject;
  EXPECT_EQ(records[0].persona, "a");
  EXPECT_EQ(records[0].fields, (Fields{{"topic", "t"}, {"domain", "math"}, {"persona", "a"}}));
  EXPECT_EQ(records[1].reject, "missing field \"topic\"");
  EXPECT_TRUE(records[1].fields.empty());
}

}  // namespace
}  // namespace personagen
