// Feeds arbitrary bytes to RecordReader as an input file: plain, or gzip or zstd when the bytes
// start with their magic. Each input is read whole, then once more resumed from a checkpoint in
// the middle, which must yield the same records as the whole read.
// Errors may only be personagen::Error; anything else escapes and crashes the fuzzer.

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "input/record_reader.h"
#include "personagen/error.h"

namespace personagen::fuzz {
namespace {

// The bytes live in a memfd, opened by the reader through /proc, so no input touches the disk.
class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("fuzz-input", MFD_CLOEXEC)) {
    FUZZ_CHECK(fd_ >= 0);
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }

  void assign(const uint8_t* data, size_t size) {
    FUZZ_CHECK(ftruncate(fd_, 0) == 0);
    for (size_t done = 0; done < size;) {
      ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      FUZZ_CHECK(n > 0);
      done += static_cast<size_t>(n);
    }
  }

  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

struct Pass {
  std::vector<InputRecord> records;
  std::vector<ReadPosition> after;  // reader.position() right after each record
  bool failed = false;
};

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

bool is_compressed(std::string_view data) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(data[i]); };
  if (data.size() >= 2 && byte(0) == 0x1f && byte(1) == 0x8b) return true;
  if (data.size() < 4) return false;
  if (byte(0) == 0x28 && byte(1) == 0xb5 && byte(2) == 0x2f && byte(3) == 0xfd) return true;
  return (byte(0) & 0xf0) == 0x50 && byte(1) == 0x2a && byte(2) == 0x4d && byte(3) == 0x18;
}

void check_record(const InputRecord& record, const ReaderOptions& options, ReadPosition before,
                  ReadPosition after, std::string_view plain) {
  // Blank lines may be skipped before the record, never lines after it.
  FUZZ_CHECK(record.line >= before.line);
  FUZZ_CHECK(record.offset >= before.offset);
  FUZZ_CHECK(after.line == record.line + 1);
  FUZZ_CHECK(after.offset > record.offset);
  if (record.ok()) {
    FUZZ_CHECK(!is_blank(record.persona));
    FUZZ_CHECK(is_valid_utf8(record.persona));
    // Every extra field in order, then the optional ones that are present, each once.
    const auto& extra = options.extra_fields;
    const auto& optional = options.optional_fields;
    FUZZ_CHECK(record.fields.size() >= extra.size());
    FUZZ_CHECK(record.fields.size() <= extra.size() + optional.size());
    size_t next_optional = 0;
    for (size_t i = 0; i < record.fields.size(); ++i) {
      const std::string& name = record.fields[i].first;
      FUZZ_CHECK(is_valid_utf8(record.fields[i].second));
      if (i < extra.size()) {
        FUZZ_CHECK(name == extra[i]);
        continue;
      }
      FUZZ_CHECK(std::find(extra.begin(), extra.end(), name) == extra.end());
      while (next_optional < optional.size() && optional[next_optional] != name) ++next_optional;
      FUZZ_CHECK(next_optional < optional.size());
      for (size_t j = extra.size(); j < i; ++j) FUZZ_CHECK(record.fields[j].first != name);
    }
    FUZZ_CHECK(record.excerpt.empty());
  } else {
    FUZZ_CHECK(is_one_line(record.reject));
    FUZZ_CHECK(is_valid_utf8(record.reject));
    FUZZ_CHECK(record.persona.empty());
    FUZZ_CHECK(record.fields.empty());
    // 200 bytes of the line, each invalid byte of which may have become a 3-byte U+FFFD.
    FUZZ_CHECK(record.excerpt.size() <= 3 * 200);
    FUZZ_CHECK(is_valid_utf8(record.excerpt));
  }
  if (!plain.empty()) {
    // For an uncompressed input the offsets can be checked against the bytes themselves.
    FUZZ_CHECK(after.offset <= plain.size());
    FUZZ_CHECK(record.offset == 0 || plain[record.offset - 1] == '\n');
    FUZZ_CHECK(after.offset == plain.size() || plain[after.offset - 1] == '\n');
  }
}

Pass read_all(const std::string& path, const ReaderOptions& options, ReadPosition start,
              std::string_view plain) {
  Pass pass;
  try {
    RecordReader reader(path, options, start);
    FUZZ_CHECK(reader.position().line == start.line);
    FUZZ_CHECK(reader.position().offset == start.offset);
    for (;;) {
      const ReadPosition before = reader.position();
      std::optional<InputRecord> record = reader.next();
      if (!record) break;
      const ReadPosition after = reader.position();
      check_record(*record, options, before, after, plain);
      pass.records.push_back(std::move(*record));
      pass.after.push_back(after);
    }
    FUZZ_CHECK(!reader.next());  // the end stays the end
    FUZZ_CHECK(reader.raw_size() == 0 || reader.raw_bytes_read() <= reader.raw_size());
  } catch (const Error& error) {
    std::string_view message = error.what();
    FUZZ_CHECK(!message.empty());
    FUZZ_CHECK(message.find('\n') == std::string_view::npos);
    pass.failed = true;
  }
  return pass;
}

bool same_record(const InputRecord& a, const InputRecord& b) {
  return a.line == b.line && a.offset == b.offset && a.persona == b.persona && a.id == b.id &&
         a.fields == b.fields && a.reject == b.reject && a.excerpt == b.excerpt;
}

// Resuming from the checkpoint after record k must give records k+1... exactly.
void check_resume(const std::string& path, const ReaderOptions& options, const Pass& whole,
                  std::string_view plain) {
  if (whole.records.empty()) return;
  const size_t k = (whole.records.size() - 1) / 2;
  const Pass resumed = read_all(path, options, whole.after[k], plain);
  const size_t expected = whole.records.size() - k - 1;
  const size_t common = std::min(expected, resumed.records.size());
  for (size_t i = 0; i < common; ++i) {
    FUZZ_CHECK(same_record(resumed.records[i], whole.records[k + 1 + i]));
  }
  // A corrupt stream fails again, though the last records before the failure may differ with
  // the size of the reads; an intact one is read to the same end.
  FUZZ_CHECK(resumed.failed == whole.failed);
  if (!whole.failed) FUZZ_CHECK(resumed.records.size() == expected);
}

}  // namespace
}  // namespace personagen::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace personagen;
  using namespace personagen::fuzz;
  static MemoryFile file;
  file.assign(data, size);
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string_view plain = is_compressed(bytes) ? std::string_view() : bytes;

  // Opening a reader costs two fresh 1 MiB buffers, the bulk of a run under ASan, so each input
  // is read with one of two configurations, picked by the parity of its size.
  ReaderOptions options;
  if (size % 2 == 0) {
    // The defaults, with a small line limit so that over-long lines are cheap to reach.
    options.max_line_bytes = 4096;
  } else {
    // Other persona fields, extra and optional fields (some repeated), a tiny line limit.
    options.persona_fields = {"text", "persona"};
    options.extra_fields = {"id", "topic", "n"};
    options.optional_fields = {"lang", "n", "score", "lang"};
    options.max_line_bytes = 64;
  }
  const Pass whole = read_all(file.path(), options, {}, plain);
  check_resume(file.path(), options, whole, plain);
  return 0;
}
