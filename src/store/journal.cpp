#include "store/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "store/shard_writer.h"
#include "util/file_io.h"

namespace personagen {

// An entry is one line of decimal numbers separated by spaces:
//   seq line n (shard records bytes){n} k (bytes lines){k} t totals{t}
// with the k side files in the order of side_file.h, and the t totals in the order of
// totals_field(). Both lists are counted, so a side file or a total added at the end is read
// by this code unchanged: one that an entry lacks keeps its value from before the entry.
// Entries of earlier versions had no counts: after the shards came exactly failures_bytes
// failures_lines rejects_bytes rejects_lines and the first 9 totals (kLegacyTail numbers);
// the counted form is always longer, so the two are told apart by length.
// Text, so that a torn line is easy to tell and a person can read it.
namespace {

constexpr size_t kTotalsFields = 11;
constexpr size_t kLegacySideFiles = 2;  // failures, rejects
constexpr size_t kLegacyTotals = 9;     // up to billed_completion_tokens
constexpr size_t kLegacyTail = 2 * kLegacySideFiles + kLegacyTotals;
static_assert(2 + 2 * kSideFileCount + kTotalsFields > kLegacyTail);

void append_number(std::string& out, uint64_t value) {
  char digits[24];  // room for the 20 digits of any uint64_t
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  (void)ec;
  out.append(digits, end);
  out.push_back(' ');
}

uint64_t* totals_field(Totals& t, size_t i) {
  uint64_t* fields[kTotalsFields] = {&t.records,
                                     &t.failed,
                                     &t.rejected,
                                     &t.requests,
                                     &t.retries,
                                     &t.prompt_tokens,
                                     &t.completion_tokens,
                                     &t.billed_prompt_tokens,
                                     &t.billed_completion_tokens,
                                     &t.unverified,
                                     &t.below_threshold};
  return fields[i];
}

// True when the file at `path` holds at least `bytes` bytes and the last of them ends a line.
// The newline guards against a power loss on a filesystem that persisted the file's size before
// its data: the tail would then read as zeros, not as a line's end.
bool holds_lines(const std::string& path, uint64_t bytes) {
  if (bytes == 0) return true;
  std::optional<uint64_t> size = file_size(path);
  if (!size || *size < bytes) return false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char last = 0;
  ssize_t n = ::pread(fd, &last, 1, static_cast<off_t>(bytes - 1));
  ::close(fd);
  return n == 1 && last == '\n';
}

// The numbers of one entry, or nullopt if the line is not one.
std::optional<std::vector<uint64_t>> parse_numbers(std::string_view line) {
  std::vector<uint64_t> numbers;
  const char* p = line.data();
  const char* end = p + line.size();
  while (p < end) {
    uint64_t value = 0;
    auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc() || (next < end && *next != ' ')) return std::nullopt;
    numbers.push_back(value);
    p = next < end ? next + 1 : next;
  }
  return numbers;
}

// Applies one entry to `state`; false if it is malformed or the files lack its bytes.
bool apply(const std::vector<uint64_t>& n, const std::string& dir, const std::string& prefix,
           uint64_t shard_size, JournalRecovery& state) {
  if (n.size() < 3) return false;
  size_t shards = n[2];
  if (shards > n.size()) return false;
  const size_t at = 3 + 3 * shards;
  if (n.size() < at) return false;
  // Where the side files and the totals start, and how many of each the entry has.
  size_t side_at = at, sides = kLegacySideFiles, totals_at = at + 2 * kLegacySideFiles,
         totals = kLegacyTotals;
  if (n.size() - at != kLegacyTail) {
    if (n.size() - at < 2 || n[at] > kSideFileCount) return false;  // more: a newer version's
    side_at = at + 1;
    sides = n[at];
    if (n.size() < side_at + 2 * sides + 1) return false;
    totals = n[side_at + 2 * sides];
    totals_at = side_at + 2 * sides + 1;
    if (totals > kTotalsFields || n.size() != totals_at + totals) return false;
  }
  WriterState writer = state.writer;
  for (size_t i = 0; i < shards; ++i) {
    uint64_t index = n[3 + 3 * i], records = n[4 + 3 * i], bytes = n[5 + 3 * i];
    if (index > writer.shards.size()) return false;  // shards are made one after another
    if (index == writer.shards.size())
      writer.shards.push_back(ShardInfo{shard_file_name(prefix, index), 0, 0, true});
    for (size_t before = 0; before < index; ++before) writer.shards[before].open = false;
    ShardInfo& shard = writer.shards[index];
    shard.records = records;
    shard.bytes = bytes;
    shard.open = !(shard_size != 0 && records >= shard_size);
    std::string path = dir + "/" + shard.name;
    if (!holds_lines(path, bytes) && !holds_lines(path + ".tmp", bytes)) return false;
  }
  for (size_t i = 0; i < sides; ++i)
    writer.side_files[i] = SideFileState{n[side_at + 2 * i], n[side_at + 2 * i + 1]};
  for (const SideFileInfo& side : kSideFiles)
    if (!holds_lines(dir + "/" + std::string(side.file_name), writer.side(side.file).bytes))
      return false;
  for (size_t i = 0; i < totals; ++i) *totals_field(state.totals, i) = n[totals_at + i];
  state.writer = std::move(writer);
  state.lines.push_back(n[1]);
  state.seq = n[0];
  return true;
}

}  // namespace

Journal::Journal(std::string path, uint64_t seq, size_t first_shard)
    : path_(std::move(path)), seq_(seq), first_shard_(first_shard) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_io_error(path_, "cannot open");
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::add(uint64_t line, const WriterState& writer, const Totals& totals) {
  append_number(buffer_, ++seq_);
  append_number(buffer_, line);
  size_t count = writer.shards.size() - std::min(first_shard_, writer.shards.size());
  append_number(buffer_, count);
  for (size_t i = writer.shards.size() - count; i < writer.shards.size(); ++i) {
    append_number(buffer_, i);
    append_number(buffer_, writer.shards[i].records);
    append_number(buffer_, writer.shards[i].bytes);
  }
  if (!writer.shards.empty())
    first_shard_ = writer.shards.size() - (writer.shards.back().open ? 1 : 0);
  append_number(buffer_, kSideFileCount);
  for (const SideFileState& side : writer.side_files) {
    append_number(buffer_, side.bytes);
    append_number(buffer_, side.lines);
  }
  append_number(buffer_, kTotalsFields);
  Totals copy = totals;
  for (size_t i = 0; i < kTotalsFields; ++i) append_number(buffer_, *totals_field(copy, i));
  buffer_.back() = '\n';
}

void Journal::flush() {
  write_all(fd_, buffer_, path_);
  buffer_.clear();
}

void Journal::clear() {
  flush();
  if (::ftruncate(fd_, 0) != 0) throw_io_error(path_, "cannot truncate");
}

void Journal::remove() {
  buffer_.clear();
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) throw_io_error(path_, "cannot remove");
}

std::optional<JournalRecovery> recover_journal(const std::string& path, const std::string& dir,
                                               const std::string& prefix, uint64_t shard_size,
                                               const Checkpoint& checkpoint) {
  std::optional<std::string> text = read_text_file(path);
  if (!text) return std::nullopt;
  const std::string& all = *text;
  JournalRecovery state;
  state.writer = checkpoint.writer;
  state.totals = checkpoint.totals;
  state.seq = checkpoint.journal_seq;
  std::string_view rest = all;
  for (size_t end; (end = rest.find('\n')) != std::string_view::npos; rest.remove_prefix(end + 1)) {
    std::optional<std::vector<uint64_t>> numbers = parse_numbers(rest.substr(0, end));
    if (!numbers || numbers->empty()) break;
    if ((*numbers)[0] <= state.seq) continue;  // the checkpoint holds it already
    if ((*numbers)[0] != state.seq + 1 || !apply(*numbers, dir, prefix, shard_size, state)) break;
  }
  if (state.lines.empty()) return std::nullopt;
  return state;
}

}  // namespace personagen
