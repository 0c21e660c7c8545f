#include "input/record_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "input/byte_source.h"
#include "input/record_reader_fixture.h"
#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

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

std::string read_all(ByteSource& source, size_t chunk) {
  std::string out;
  std::vector<char> buffer(chunk);
  while (size_t n = source.read(buffer.data(), buffer.size())) out.append(buffer.data(), n);
  return out;
}

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
  std::string missing = path("personas.jsonl");
  // When they are opened
  ExitCode code = ExitCode::ok;
  std::string message = error_of([&] { RecordReader reader(missing, {}); }, &code);
  std::string directory = error_of([&] { RecordReader reader(dir_, {}); });
  // Then the errors name the file and the reason
  EXPECT_EQ(message, missing + ": cannot open: No such file or directory");
  EXPECT_EQ(code, ExitCode::usage);
  EXPECT_EQ(directory, dir_ + ": cannot open: Is a directory");
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

}  // namespace
}  // namespace personagen
