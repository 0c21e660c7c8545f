#include "app/status_printer.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string_view>
#include <vector>

#include "util/text_util.h"
#include "util/utf8.h"

namespace personagen {

namespace {

constexpr auto kSmartInterval = std::chrono::milliseconds(100);

// A non-negative rate with one decimal and thousands separators: "1,234.5".
std::string format_rate(double rate) {
  if (!std::isfinite(rate) || rate < 0) rate = 0;
  const auto tenths = static_cast<uint64_t>(std::llround(rate * 10));
  return with_commas(tenths / 10) + "." + std::to_string(tenths % 10);
}

// Dollars with cents, and with thousands separated: 0.934 -> "$0.93", 12345.6 -> "$12,345.60".
std::string format_cost(double dollars) {
  const auto cents = static_cast<uint64_t>(std::llround(std::max(dollars, 0.0) * 100));
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%02u", static_cast<unsigned>(cents % 100));
  return "$" + with_commas(cents / 100) + fraction;
}

// 999 -> "999", 1500 -> "1.5k", 845123 -> "845k", 1234567 -> "1.2M". Rounds down, so a count
// is never overstated and never shows as "1000k".
std::string format_tokens(uint64_t n) {
  static constexpr const char* kUnits[] = {"", "k", "M", "G", "T", "P", "E"};
  if (n < 1000) return std::to_string(n);
  size_t unit = 0;
  uint64_t scale = 1;
  while (n / scale >= 1000 && unit + 1 < std::size(kUnits)) {
    scale *= 1000;
    ++unit;
  }
  const uint64_t whole = n / scale;
  std::string out = std::to_string(whole);
  if (whole < 10) out += "." + std::to_string(n % scale * 10 / scale);
  return out + kUnits[unit];
}

// 45 -> "45s", 192 -> "3m12s", 7500 -> "2h05m".
std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const auto total = static_cast<uint64_t>(std::llround(std::min(seconds, 1e15)));
  char buffer[48];
  if (total < 60) {
    std::snprintf(buffer, sizeof buffer, "%llus", static_cast<unsigned long long>(total));
  } else if (total < 3600) {
    std::snprintf(buffer, sizeof buffer, "%llum%02llus",
                  static_cast<unsigned long long>(total / 60),
                  static_cast<unsigned long long>(total % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lluh%02llum",
                  static_cast<unsigned long long>(total / 3600),
                  static_cast<unsigned long long>(total % 3600 / 60));
  }
  return buffer;
}

double per_second(uint64_t count, double seconds) {
  return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
}

}  // namespace

// Why pieces: trimming drops whole pieces from the right, where the least important ones sit,
// so a narrow terminal never shows half a number.
std::string format_progress(const Progress& progress, size_t width, bool bar) {
  std::vector<std::string> pieces;
  std::string counts;
  if (progress.fraction >= 0) {
    const double percent = std::clamp(std::floor(progress.fraction * 100), 0.0, 100.0);
    char buffer[16];
    if (bar) {
      constexpr int kCells = 20;
      const int filled = static_cast<int>(percent) * kCells / 100;
      std::snprintf(buffer, sizeof buffer, " %3d%%", static_cast<int>(percent));
      pieces.push_back("[" + std::string(static_cast<size_t>(filled), '#') +
                       std::string(static_cast<size_t>(kCells - filled), '-') + "]" + buffer);
    } else {
      std::snprintf(buffer, sizeof buffer, "[%3d%%]", static_cast<int>(percent));
      pieces.emplace_back(buffer);
    }
    counts = " ";  // the separator belongs to the piece after it, so it goes when that does
  }
  pieces.push_back(counts + with_commas(progress.done) + " done");
  pieces.push_back(", " + with_commas(progress.failed) + " failed");
  pieces.push_back(", " + with_commas(progress.rejected) + " rejected");
  if (progress.unverified != 0)
    pieces.push_back(", " + with_commas(progress.unverified) + " unverified");
  if (progress.below_threshold != 0)
    pieces.push_back(", " + with_commas(progress.below_threshold) + " below threshold");
  pieces.push_back(" | " + with_commas(progress.in_flight) + " in flight");
  pieces.push_back(", " + with_commas(progress.waiting) + " retrying");
  const double rate = per_second(progress.done + progress.failed, progress.elapsed_seconds);
  pieces.push_back(" | " + format_rate(rate) + " req/s");
  pieces.push_back(" | " + format_tokens(progress.prompt_tokens + progress.completion_tokens) +
                   " tok");
  if (progress.cost >= 0) pieces.push_back(" | " + format_cost(progress.cost));
  if (progress.fraction > 0) {
    const double fraction = std::min(progress.fraction, 1.0);
    const double eta = progress.elapsed_seconds * (1 - fraction) / fraction;
    pieces.push_back(" | ETA " + format_duration(eta));
  }

  std::string line;
  for (const std::string& piece : pieces) {
    if (width > 0 && line.size() + piece.size() > width) break;
    line += piece;
  }
  return line;
}

std::string format_summary(const Progress& progress, const std::string& destination) {
  std::string elapsed;
  if (progress.elapsed_seconds < 60) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1fs", std::max(progress.elapsed_seconds, 0.0));
    elapsed = buffer;
  } else {
    elapsed = format_duration(progress.elapsed_seconds);
  }
  // Only runs that check agreement or scores have any; other lines stay as they were.
  std::string aside =
      progress.unverified != 0 ? ", " + with_commas(progress.unverified) + " unverified" : "";
  if (progress.below_threshold != 0)
    aside += ", " + with_commas(progress.below_threshold) + " below threshold";
  return "personagen: " + with_commas(progress.done) + " records, " + with_commas(progress.failed) +
         " failed, " + with_commas(progress.rejected) + " rejected" + aside + " in " + elapsed +
         " (" + format_rate(per_second(progress.done, progress.elapsed_seconds)) + " rec/s, " +
         format_tokens(progress.prompt_tokens + progress.completion_tokens) + " tokens" +
         (progress.cost >= 0 ? ", " + format_cost(progress.cost) : "") + ") -> " + destination;
}

// NO_COLOR is honoured trivially: nothing here ever prints a color. The only escape sequence is
// "clear to end of line" on a smart terminal, which NO_COLOR does not cover.
LinePrinter::LinePrinter(FILE* out, bool smart_terminal) : out_(out), smart_(smart_terminal) {}

void LinePrinter::print(const std::string& line) {
  if (smart_) {
    std::string text = "\r";
    text += utf8_prefix(line, width());
    text += "\x1b[K";
    std::fputs(text.c_str(), out_);
    have_blank_line_ = false;
  } else {
    std::fputs(line.c_str(), out_);
    std::fputc('\n', out_);
  }
  std::fflush(out_);
}

void LinePrinter::finish_line() {
  if (!have_blank_line_) {
    std::fputc('\n', out_);
    std::fflush(out_);
    have_blank_line_ = true;
  }
}

size_t LinePrinter::width() const {
  winsize size{};
  if (ioctl(fileno(out_), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const long value = std::strtol(columns, &end, 10);
    if (end != columns && *end == '\0' && value > 0 && value < 100000) {
      return static_cast<size_t>(value);
    }
  }
  return 80;
}

StatusPrinter::StatusPrinter(LinePrinter& printer, std::chrono::milliseconds plain_interval,
                             bool quiet)
    : printer_(printer), interval_(plain_interval), quiet_(quiet) {
  if (!printer_.smart()) last_ = std::chrono::steady_clock::now();
}

void StatusPrinter::update(const Progress& progress) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const auto interval = printer_.smart() ? std::chrono::milliseconds(kSmartInterval) : interval_;
  if (now - last_ < interval) return;
  last_ = now;
  printer_.print(
      format_progress(progress, printer_.smart() ? printer_.width() : 0, printer_.smart()));
}

void StatusPrinter::finish(const Progress& progress, const std::string& destination, bool always) {
  printer_.finish_line();
  if (quiet_ && !always) return;
  const std::string summary = format_summary(progress, destination) + "\n";
  std::fputs(summary.c_str(), printer_.out_);
  std::fflush(printer_.out_);
}

void StatusPrinter::note(const std::string& line) {
  printer_.finish_line();
  if (quiet_) return;
  std::fprintf(printer_.out_, "personagen: %s\n", line.c_str());
  std::fflush(printer_.out_);
}

}  // namespace personagen
