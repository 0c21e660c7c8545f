#include "store/watermark.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

namespace personagen {

Watermark::Watermark(ReadPosition start, uint64_t selected_below, std::vector<uint64_t> done_above)
    : read_(start), selected_below_(selected_below) {
  std::sort(done_above.begin(), done_above.end());
  done_above.erase(std::unique(done_above.begin(), done_above.end()), done_above.end());
  for (uint64_t line : done_above) {
    if (line >= start.line) done_before_.push_back(line);
  }
}

bool Watermark::done_before(uint64_t line) const {
  return std::binary_search(done_before_.begin(), done_before_.end(), line);
}

void Watermark::begin(const ReadPosition& at, bool selected) {
  const uint64_t line = at.line;
  if (!window_.empty() && line <= window_.back().at.line) {
    throw std::logic_error("Watermark: line " + std::to_string(line) + " begun after line " +
                           std::to_string(window_.back().at.line));
  }
  window_.push_back(Entry{at, selected, false});
  ++unfinished_;
  forget_passed();
}

void Watermark::finish(uint64_t line) {
  auto it = std::lower_bound(window_.begin(), window_.end(), line,
                             [](const Entry& entry, uint64_t l) { return entry.at.line < l; });
  if (it == window_.end() || it->at.line != line || it->finished) {
    throw std::logic_error("Watermark: line " + std::to_string(line) +
                           " finished but not in progress");
  }
  it->finished = true;
  --unfinished_;
  while (!window_.empty() && window_.front().finished) {
    if (window_.front().selected) ++selected_below_;
    window_.pop_front();
  }
  forget_passed();
}

void Watermark::set_read_position(ReadPosition next) {
  read_ = next;
}

// Only lines before a begun line are certainly behind the reader: a caller may still ask about
// the line it has just read after moving the read position past it.
void Watermark::forget_passed() {
  if (window_.empty()) return;
  while (!done_before_.empty() && done_before_.front() < window_.front().at.line) {
    done_before_.pop_front();
  }
}

ReadPosition Watermark::low() const {
  if (window_.empty()) return read_;
  return window_.front().at;
}

std::vector<uint64_t> Watermark::done_above() const {
  const uint64_t low_line = low().line;
  std::vector<uint64_t> finished;
  for (const Entry& entry : window_) {
    if (entry.finished) finished.push_back(entry.at.line);
  }
  std::vector<uint64_t> earlier;
  for (uint64_t line : done_before_) {
    if (line >= low_line) earlier.push_back(line);
  }
  std::vector<uint64_t> merged;
  merged.reserve(finished.size() + earlier.size());
  std::set_union(finished.begin(), finished.end(), earlier.begin(), earlier.end(),
                 std::back_inserter(merged));
  return merged;
}

uint64_t Watermark::span() const {
  if (window_.empty()) return 0;
  return window_.back().at.line + 1 - window_.front().at.line;
}

}  // namespace personagen
