// The stdout sink (-o -): records on stdout, failures and rejects as lines on stderr.
#include "store/stdout_sink.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "personagen/input_record.h"
#include "store/output_record.h"
#include "store/shard_writer_fixture.h"

namespace personagen {
namespace {

// Points `stream` (stdout or stderr) at the descriptor `fd` for the scope, then restores it.
class StreamRedirect {
 public:
  StreamRedirect(FILE* stream, int fd)
      : stream_(stream), target_(::fileno(stream)), saved_(::dup(target_)) {
    std::fflush(stream_);
    ::dup2(fd, target_);
  }
  ~StreamRedirect() {
    std::fflush(stream_);
    ::dup2(saved_, target_);
    ::close(saved_);
  }
  StreamRedirect(const StreamRedirect&) = delete;
  StreamRedirect& operator=(const StreamRedirect&) = delete;

 private:
  FILE* stream_;
  int target_;
  int saved_;
};

struct StdoutRedirect : StreamRedirect {
  explicit StdoutRedirect(int fd) : StreamRedirect(stdout, fd) {}
};

struct StderrRedirect : StreamRedirect {
  explicit StderrRedirect(int fd) : StreamRedirect(stderr, fd) {}
};

// Sends spdlog's default logger to a string for the scope, then restores the old one.
class CapturedLog {
 public:
  CapturedLog() : saved_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    sink->set_pattern("%v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(saved_); }
  std::string text() const { return text_.str(); }

 private:
  std::shared_ptr<spdlog::logger> saved_;
  std::ostringstream text_;
};

// Sets spdlog's global level for the scope, then restores it.
class LogLevel {
 public:
  explicit LogLevel(spdlog::level::level_enum level) : saved_(spdlog::get_level()) {
    spdlog::set_level(level);
  }
  ~LogLevel() { spdlog::set_level(saved_); }

 private:
  spdlog::level::level_enum saved_;
};

// The JSON after `prefix` on `line`, or a null document (and a test failure) if it is not there
// or does not parse.
nlohmann::json json_after(const std::string& line, const std::string& prefix) {
  if (line.rfind(prefix, 0) != 0) {
    ADD_FAILURE() << "expected \"" << prefix << "\" at the start of: " << line;
    return nullptr;
  }
  nlohmann::json json = nlohmann::json::parse(line.substr(prefix.size()), nullptr, false);
  EXPECT_FALSE(json.is_discarded()) << line;
  return json;
}

TEST_F(ShardWriterTest, StdoutSinkWritesExactLines) {
  // Given stdout redirected to a file, a file for the diagnostics, and the log captured
  std::string out = path("stdout.jsonl");
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  std::string err = path("stderr.txt");
  FILE* diagnostics = std::fopen(err.c_str(), "w");
  ASSERT_NE(diagnostics, nullptr);
  CapturedLog log;
  WriterState state;
  std::string after_sync;
  bool threw_after_close = false;
  {
    // (No assertions in here: gtest prints its failures to stdout.)
    StdoutRedirect redirect(fd);
    // When records, a failure and a reject go to the stdout sink
    auto sink = make_stdout_sink(diagnostics);
    sink->write_record(record(0));
    sink->write_failure("{\"error\":\"x\"}");
    sink->write_record(record(1));
    sink->write_reject("{\"line\":2}");
    sink->sync();
    after_sync = read_file(out);
    // And more than the buffer's worth of records follows
    for (int i = 2; i < 5000; ++i) sink->write_record(record(i));
    state = sink->close();
    try {
      sink->write_record(record(0));
    } catch (const std::logic_error&) {
      threw_after_close = true;
    }
  }
  ::close(fd);
  std::fclose(diagnostics);
  // Then synced records were in the file at once
  EXPECT_EQ(after_sync, record(0) + "\n" + record(1) + "\n");
  // And the file holds exactly the records
  std::vector<std::string> got = lines_of(read_file(out));
  ASSERT_EQ(got.size(), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(got[i], record(i));
  // And the failure and reject went to the diagnostics as one line each, not to the log, and
  // were counted
  EXPECT_EQ(read_file(err),
            "personagen: failure: {\"error\":\"x\"}\npersonagen: reject: {\"line\":2}\n");
  EXPECT_EQ(log.text(), "");
  EXPECT_EQ(state.side(SideFile::failures).lines, 1u);
  EXPECT_EQ(state.side(SideFile::rejects).lines, 1u);
  EXPECT_TRUE(state.shards.empty());
  EXPECT_TRUE(threw_after_close);
}

TEST_F(ShardWriterTest, StdoutSinkWritesFailuresAndRejectsToStderrWhateverTheLogLevel) {
  // Given stderr redirected to a file and the log level raised as -q does (or logging off),
  // and a failure and a reject as synth formats them, with newlines, quotes and UTF-8 inside
  FailureRecord failure;
  failure.custom_id = "math-7-0";
  failure.line = 7;
  failure.persona = "a \"retired\" nurse\nfrom Lyon, caf\u00e9 owner";
  failure.persona_id = "p-7";
  failure.task = "math";
  failure.kind = "http_status";
  failure.reason = "HTTP 400: bad\nrequest";
  failure.status = 400;
  failure.attempts = 1;
  std::string failure_json;
  format_failure(failure, failure_json);
  InputRecord reject;
  reject.line = 9;
  reject.offset = 321;
  reject.reject = "not valid JSON";
  reject.excerpt = "{\"persona\": \"half\r\n";
  std::string reject_json;
  format_reject(reject, "in.jsonl", reject_json);
  for (auto level : {spdlog::level::err, spdlog::level::off}) {
    std::string err = path("stderr.txt");
    int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    CapturedLog log;
    LogLevel quiet(level);
    {
      StderrRedirect redirect(fd);
      // When the default stdout sink is given the failure and the reject
      auto sink = make_stdout_sink();
      sink->write_failure(failure_json);
      sink->write_reject(reject_json);
      sink->close();
    }
    ::close(fd);
    // Then stderr holds exactly two lines, one per kind, whose JSON parses back with the fields
    std::vector<std::string> got = lines_of(read_file(err));
    ASSERT_EQ(got.size(), 2u) << read_file(err);
    nlohmann::json f = json_after(got[0], "personagen: failure: ");
    EXPECT_EQ(f.value("custom_id", ""), "math-7-0");
    EXPECT_EQ(f.value("line", 0), 7);
    EXPECT_EQ(f.value("persona", ""), failure.persona);
    EXPECT_EQ(f.value("task", ""), "math");
    EXPECT_EQ(f.value("kind", ""), "http_status");
    EXPECT_EQ(f.value("reason", ""), "HTTP 400: bad\nrequest");
    EXPECT_EQ(f.value("status", 0), 400);
    EXPECT_EQ(f.value("attempts", 0), 1);
    nlohmann::json r = json_after(got[1], "personagen: reject: ");
    EXPECT_EQ(r.value("file", ""), "in.jsonl");
    EXPECT_EQ(r.value("line", 0), 9);
    EXPECT_EQ(r.value("offset", 0), 321);
    EXPECT_EQ(r.value("reason", ""), "not valid JSON");
    EXPECT_EQ(r.value("excerpt", ""), reject.excerpt);
    // And exactly the JSON a shard directory's failures.jsonl and rejects.jsonl would hold
    EXPECT_EQ(got[0], "personagen: failure: " + failure_json);
    EXPECT_EQ(got[1], "personagen: reject: " + reject_json);
    // And nothing went through the log
    EXPECT_EQ(log.text(), "");
  }
}

TEST_F(ShardWriterTest, StdoutSinkRefusesLinesWithANewline) {
  // Given a stdout sink with its diagnostics in a file
  std::string err = path("stderr.txt");
  FILE* diagnostics = std::fopen(err.c_str(), "w");
  ASSERT_NE(diagnostics, nullptr);
  auto sink = make_stdout_sink(diagnostics);
  // When a record, a failure or a reject holds a newline, then it is a logic error
  EXPECT_THROW(sink->write_record("{\"a\":1}\n{\"b\":2}"), std::logic_error);
  EXPECT_THROW(sink->write_failure("{\"a\":1}\n{\"b\":2}"), std::logic_error);
  EXPECT_THROW(sink->write_reject("{\"a\":1}\n"), std::logic_error);
  // And nothing was written or counted
  WriterState state = sink->close();
  std::fclose(diagnostics);
  EXPECT_EQ(read_file(err), "");
  EXPECT_EQ(state.side(SideFile::failures).lines, 0u);
  EXPECT_EQ(state.side(SideFile::rejects).lines, 0u);
}

TEST_F(ShardWriterTest, StdoutSinkReportsAFailedStderrWrite) {
  // Given diagnostics going to a full device
  FILE* full = std::fopen("/dev/full", "w");
  if (full == nullptr) GTEST_SKIP() << "no /dev/full";
  auto sink = make_stdout_sink(full);
  // When a failure is written
  std::string error;
  try {
    sink->write_failure("{\"error\":\"x\"}");
  } catch (const Error& e) {
    error = e.what();
  }
  std::fclose(full);
  // Then the failure is not silently lost: the error names stderr and the reason
  EXPECT_EQ(error, "stderr: write failed: No space left on device");
}

TEST_F(ShardWriterTest, StdoutSinkReportsABrokenPipe) {
  // Given stdout is a pipe whose reader has gone, with SIGPIPE ignored
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  auto old_handler = std::signal(SIGPIPE, SIG_IGN);
  std::string error;
  {
    StdoutRedirect redirect(fds[1]);
    auto sink = make_stdout_sink();
    sink->write_record(record(0));
    // When the sink flushes
    try {
      sink->sync();
    } catch (const Error& e) {
      error = e.what();
    }
  }
  std::signal(SIGPIPE, old_handler);
  ::close(fds[1]);
  // Then the error names stdout and the reason
  EXPECT_EQ(error, "stdout: write failed: Broken pipe");
}

}  // namespace
}  // namespace personagen
