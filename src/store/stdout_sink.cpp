#include "store/stdout_sink.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "util/file_io.h"

namespace personagen {
namespace {

// Records reach stdout in writes of about this size, and at every flush(): a consumer of the
// pipe sees records within a loop turn, and a fast run still makes few write calls.
constexpr size_t kStdoutFlushBytes = 64 << 10;

// Why not spdlog for the side files' lines (failures, rejects, ...): -q and --log-level would then
// drop them, and with -o - stderr is the only place they exist.
class StdoutSink final : public RecordSink {
 public:
  explicit StdoutSink(FILE* diagnostics) : diagnostics_(diagnostics) {}

  void write_record(std::string_view json) override {
    check_writable();
    check_one_line(json);
    buffer_.append(json);
    buffer_.push_back('\n');
    if (buffer_.size() >= kStdoutFlushBytes) flush();
  }
  void write_side(SideFile file, std::string_view json) override {
    check_writable();
    check_one_line(json);
    diagnostic(side_file_info(file).label, json);
    ++state_.side(file).lines;
  }
  // Also what RecordSink::flush() does at the end of each loop turn.
  void flush() override {
    std::string data;
    data.swap(buffer_);
    write_all(STDOUT_FILENO, data, "stdout");
  }
  WriterState sync() override {
    flush();
    return state_;
  }
  const WriterState& state() const override { return state_; }
  WriterState close() override {
    if (!closed_) flush();
    closed_ = true;
    return state_;
  }

 private:
  void check_writable() const {
    if (closed_) throw std::logic_error("stdout sink: write after close()");
  }
  // One line, flushed at once, so it is out even if the run dies next; one fwrite, so the stdio
  // lock keeps it whole next to spdlog's lines on the same stream.
  void diagnostic(std::string_view label, std::string_view json) {
    line_.assign("personagen: ");
    line_.append(label);
    line_.append(": ");
    line_.append(json);
    line_.push_back('\n');
    if (std::fwrite(line_.data(), 1, line_.size(), diagnostics_) != line_.size() ||
        std::fflush(diagnostics_) != 0) {
      throw_io_error("stderr", "write failed");
    }
  }

  FILE* diagnostics_;
  std::string buffer_;
  std::string line_;
  WriterState state_;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<RecordSink> make_stdout_sink(FILE* diagnostics) {
  // Records own stdout. spdlog's built-in default logger (the one with no name) writes there
  // too, so if nobody has replaced it yet, diagnostics move to stderr before a record is written.
  if (spdlog::default_logger()->name().empty())
    spdlog::set_default_logger(spdlog::stderr_color_mt("personagen"));
  return std::make_unique<StdoutSink>(diagnostics);
}

}  // namespace personagen
