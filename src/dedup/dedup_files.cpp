#include "dedup/dedup_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "input/byte_source.h"
#include "input/input_files.h"
#include "personagen/error.h"
#include "util/file_io.h"
#include "util/json_text.h"
#include "util/utf8.h"

namespace personagen {

RawLineReader::RawLineReader(std::vector<std::string> paths)
    : paths_(std::move(paths)), source_(open_byte_source(paths_.at(0))), buffer_(kReadChunk) {}

bool RawLineReader::next(std::string* line) {
  if (line) line->clear();
  cut_ = false;
  bool found = false;  // a byte of the line, or its newline
  for (;;) {
    if (begin_ == end_) {
      if (eof_ && !found && file_ + 1 < paths_.size()) {
        // The next file starts a line of its own, as in RecordReader.
        source_ = open_byte_source(paths_[++file_]);
        eof_ = false;
        first_ = true;
      }
      if (eof_) break;
      begin_ = 0;
      end_ = source_->read(buffer_.data(), buffer_.size());
      if (end_ == 0) {
        eof_ = true;
        if (!found && file_ + 1 < paths_.size()) continue;
        break;
      }
    }
    const char* start = buffer_.data() + begin_;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    const size_t length = newline ? static_cast<size_t>(newline - start) : end_ - begin_;
    if (line) {
      const size_t room = max_line_ - std::min(max_line_, line->size());
      line->append(start, std::min(length, room));
      cut_ = cut_ || length > room;
    }
    found = found || length > 0 || newline;
    begin_ += length + (newline ? 1 : 0);
    if (newline) break;
  }
  if (!found) return false;
  if (line) {
    if (!line->empty() && line->back() == '\r') line->pop_back();
    if (first_ && std::string_view(*line).starts_with(kUtf8Bom)) line->erase(0, kUtf8Bom.size());
  }
  first_ = false;
  return true;
}

OutputFile::OutputFile(const std::string& path) {
  if (path != "-") file_.emplace(path);
}

void OutputFile::write(std::string_view data) {
  if (file_) {
    file_->write(data);
  } else if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size()) {
    throw Error("stdout: cannot write: " + errno_text());
  }
}

void OutputFile::commit() {
  if (file_) {
    file_->commit();
  } else if (std::fflush(stdout) != 0) {
    throw Error("stdout: cannot write: " + errno_text());
  }
}

std::string make_temp_path(const std::string& prefix) {
  std::error_code error;
  std::filesystem::path dir = std::filesystem::temp_directory_path(error);
  if (error) dir = "/tmp";
  std::string path = (dir / (prefix + ".XXXXXX")).string();
  int fd = ::mkstemp(path.data());
  if (fd < 0) throw Error(path + ": cannot create a temporary file: " + errno_text());
  ::close(fd);
  return path;
}

TempFileRemover::~TempFileRemover() {
  std::remove(path_.c_str());
}

SpooledStdin::SpooledStdin() : path_(make_temp_path("personagen-stdin")) {
  int out = ::open(path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (out < 0) {
    std::remove(path_.c_str());
    throw Error(path_ + ": cannot open: " + errno_text());
  }
  std::vector<char> buffer(kReadChunk);
  std::string failure;
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failure = "stdin: cannot read: " + errno_text();
      break;
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        failure = path_ + ": cannot write a copy of stdin: " + errno_text();
        break;
      }
      done += w;
    }
    if (!failure.empty()) break;
  }
  ::close(out);
  if (!failure.empty()) {
    std::remove(path_.c_str());
    throw Error(failure);
  }
}

SpooledStdin::~SpooledStdin() {
  std::remove(path_.c_str());
}

InputFiles::InputFiles(const std::vector<std::string>& inputs)
    : paths_(expand_inputs(inputs)), name_(display_name(join_inputs(inputs))) {
  if (paths_.size() == 1 && paths_[0] == "-") {
    spool_ = std::make_unique<SpooledStdin>();
    paths_[0] = spool_->path();
  }
}

InputFiles::~InputFiles() = default;

std::string InputFiles::name(size_t index) const {
  return spool_ ? "stdin" : paths_.at(index);
}

std::string display_name(const std::string& path) {
  return path == "-" ? "stdin" : path;
}

std::string_view report_excerpt(std::string_view text) {
  constexpr size_t kReportTextBytes = 200;
  return utf8_prefix(text, kReportTextBytes);
}

void append_report_line(std::string& out, const DroppedRecord& drop, std::string_view text) {
  out += "{\"line\":";
  append_json_int(out, static_cast<int64_t>(drop.line));
  out += ",\"duplicate_of\":";
  append_json_int(out, static_cast<int64_t>(drop.duplicate_of));
  out += ",\"stage\":\"";
  out += to_string(drop.stage);
  out += "\",\"similarity\":";
  append_json_double(out, std::round(drop.similarity * 1e4) / 1e4);
  out += ",\"text\":";
  append_json_string(out, report_excerpt(text));
  out += "}\n";
}

}  // namespace personagen
