#include <algorithm>
#include <cmath>

#include "report/report_format.h"
#include "report/report_table.h"
#include "report/report_writers.h"

// The terminal summary: about one screen for one dataset. Every section's rows come from
// report_table.h, one column per dataset; the lists (length histogram, openings, names, score
// sparklines, similarity bins) follow their section, one block per dataset.

namespace personagen {

namespace {

constexpr size_t kColumnLabelWidth = 28;  // a column header's most characters
constexpr size_t kHistogramBins = 8;      // rows of the text histogram
constexpr size_t kBarWidth = 30;          // characters of its longest bar
constexpr size_t kOpeningWidth = 56;      // characters of an opening
constexpr const char* kDot = " \xC2\xB7 ";

std::string pad_left(const std::string& text, size_t width) {
  const size_t w = display_width(text);
  return std::string(width > w ? width - w : 0, ' ') + text;
}

std::string pad_right(const std::string& text, size_t width) {
  const size_t w = display_width(text);
  return text + std::string(width > w ? width - w : 0, ' ');
}

// A bar of `fraction` (0..1) of `width` characters, in eighths: "█████▌".
std::string bar(double fraction, size_t width) {
  static constexpr const char* kEighths[] = {"",
                                             "\xE2\x96\x8F",
                                             "\xE2\x96\x8E",
                                             "\xE2\x96\x8D",
                                             "\xE2\x96\x8C",
                                             "\xE2\x96\x8B",
                                             "\xE2\x96\x8A",
                                             "\xE2\x96\x89"};
  const auto eighths = static_cast<size_t>(std::lround(std::clamp(fraction, 0.0, 1.0) * width * 8));
  std::string out;
  for (size_t i = 0; i < eighths / 8; ++i) out += "\xE2\x96\x88";
  return out + kEighths[eighths % 8];
}

// Counts as one line of block characters, lowest to highest: "▁▂▅█▃".
std::string sparkline(const std::vector<uint64_t>& counts) {
  static constexpr const char* kLevels[] = {"\xE2\x96\x81", "\xE2\x96\x82", "\xE2\x96\x83",
                                            "\xE2\x96\x84", "\xE2\x96\x85", "\xE2\x96\x86",
                                            "\xE2\x96\x87", "\xE2\x96\x88"};
  const uint64_t top = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
  std::string out;
  for (uint64_t n : counts) {
    out += n == 0 || top == 0 ? " " : kLevels[std::min<uint64_t>(7, n * 7 / top)];
  }
  return out;
}

class TextWriter {
 public:
  TextWriter(std::ostream& out, std::span<const Figures> datasets)
      : out_(out), datasets_(datasets) {}

  void write() {
    const std::vector<ReportSection> sections = report_sections(datasets_);
    size_t name_width = 0;
    for (const ReportSection& s : sections) {
      for (const ReportRow& row : s.rows)
        name_width = std::max(name_width, display_width(row.name));
    }
    name_width += 2;
    column_widths(sections);

    out_ << "personagen report";
    if (datasets_.size() == 1) out_ << ": " << shorten_label(datasets_[0].label, 60);
    out_ << "\n";
    if (datasets_.size() > 1) {
      out_ << pad_right("", name_width + 2);
      for (size_t d = 0; d < datasets_.size(); ++d)
        out_ << "  " << pad_left(labels_[d], widths_[d]);
      out_ << "\n";
    }
    for (const ReportSection& s : sections) {
      out_ << "\n" << s.title << "\n";
      for (const ReportRow& row : s.rows) {
        out_ << "  " << pad_right(row.name, name_width);
        for (size_t d = 0; d < row.cells.size(); ++d) {
          // A list cell ("stop 12 · length 3") wider than the column starts where it starts.
          const bool overflows = display_width(row.cells[d]) > widths_[d];
          out_ << "  " << (overflows ? row.cells[d] : pad_left(row.cells[d], widths_[d]));
        }
        out_ << "\n";
      }
      lists_after(s.part);
    }
    if (std::none_of(datasets_.begin(), datasets_.end(),
                     [](const Figures& f) { return f.similarity.has_value(); })) {
      out_ << "\nSimilarity: not measured (add --embed-model MODEL to compare output similarity "
              "with persona similarity)\n";
    }
  }

 private:
  void column_widths(const std::vector<ReportSection>& sections) {
    for (const Figures& f : datasets_) {
      labels_.push_back(shorten_label(f.label, kColumnLabelWidth));
      widths_.push_back(datasets_.size() > 1 ? display_width(labels_.back()) : 0);
    }
    for (const ReportSection& s : sections) {
      for (const ReportRow& row : s.rows) {
        for (size_t d = 0; d < row.cells.size(); ++d) {
          // With one column, lists do not widen it: the numbers stay near their names.
          if (datasets_.size() == 1 && row.cells[d].find(kDot) != std::string::npos) continue;
          widths_[d] = std::max(widths_[d], display_width(row.cells[d]));
        }
      }
    }
  }

  // The heading of a dataset's list: its label when there are several.
  std::string heading(const char* what, size_t d) const {
    return datasets_.size() > 1 ? std::string(what) + " (" + labels_[d] + ")" : what;
  }

  void lists_after(ReportPart part) {
    for (size_t d = 0; d < datasets_.size(); ++d) {
      const Figures& f = datasets_[d];
      switch (part) {
        case ReportPart::length:
          histogram(heading("words per output", d), f.words.histogram);
          break;
        case ReportPart::diversity:
          top_list(heading("most common openings", d), f.diversity.openings,
                   datasets_.size() > 1 ? 5 : 8);
          break;
        case ReportPart::task:
          task_lists(f, d);
          break;
        case ReportPart::similarity:
          if (f.similarity)
            similarity_bins(heading("output cosine by persona cosine", d), *f.similarity);
          break;
        case ReportPart::run:
          break;
      }
    }
  }

  void histogram(const std::string& title, const Histogram& full) {
    const Histogram h = coarsen(full, kHistogramBins);
    if (h.counts.empty()) return;
    const uint64_t top = *std::max_element(h.counts.begin(), h.counts.end());
    uint64_t total = 0;
    for (uint64_t n : h.counts) total += n;
    size_t label_width = 0;
    for (size_t i = 0; i < h.counts.size(); ++i) {
      label_width = std::max(label_width, display_width(bin_label(h, i)));
    }
    out_ << "  " << title << "\n";
    for (size_t i = 0; i < h.counts.size(); ++i) {
      const double fraction = top == 0 ? 0 : static_cast<double>(h.counts[i]) / top;
      out_ << "    " << pad_left(bin_label(h, i), label_width) << " | "
           << pad_right(bar(fraction, kBarWidth), kBarWidth) << " " << with_commas(h.counts[i])
           << " (" << format_share(total == 0 ? 0 : static_cast<double>(h.counts[i]) / total)
           << ")\n";
    }
  }

  void top_list(const std::string& title, const std::vector<TopEntry>& entries, size_t most) {
    if (entries.empty()) return;
    out_ << "  " << title << "\n";
    for (size_t i = 0; i < std::min(most, entries.size()); ++i) {
      const TopEntry& e = entries[i];
      std::string count = with_commas(e.count);
      if (e.error > 0) count += " \xC2\xB1" + with_commas(e.error);
      out_ << "    " << pad_left(format_share(e.share), 6) << "  \""
           << shorten_text(e.key, kOpeningWidth) << "\"  (" << count << ")\n";
    }
  }

  // Names or keys on one line: "alice 12.0% · bob 8.1%".
  void inline_list(const std::string& title, const std::vector<TopEntry>& entries) {
    if (entries.empty()) return;
    out_ << "  " << title << ": ";
    for (size_t i = 0; i < std::min<size_t>(5, entries.size()); ++i) {
      out_ << (i > 0 ? kDot : "") << shorten_text(entries[i].key, 24) << " "
           << format_share(entries[i].share);
    }
    out_ << "\n";
  }

  void task_lists(const Figures& f, size_t d) {
    if (f.task.judge && !f.task.judge->scores.empty()) {
      out_ << "  " << heading("judge scores", d) << "\n";
      size_t width = 0;
      for (const auto& [criterion, h] : f.task.judge->scores) {
        width = std::max(width, display_width(criterion));
      }
      for (const auto& [criterion, h] : f.task.judge->scores) {
        if (h.counts.empty()) continue;
        out_ << "    " << pad_right(criterion, width) << "  " << bin_label(h, 0) << " |"
             << sparkline(h.counts) << "| " << bin_label(h, h.counts.size() - 1) << "\n";
      }
    }
    inline_list(heading("top names", d), f.task.names);
    inline_list(heading("top keys", d), f.task.keys);
  }

  void similarity_bins(const std::string& title, const SimilarityFigures& s) {
    if (s.bins.empty()) return;
    out_ << "  " << title << "\n";
    for (const SimilarityBin& b : s.bins) {
      out_ << "    persona " << format_number(b.persona_low, 2) << "-"
           << format_number(b.persona_high, 2) << "  output " << format_number(b.mean_output, 3)
           << "  (" << with_commas(b.pairs) << " pairs)\n";
    }
  }

  std::ostream& out_;
  std::span<const Figures> datasets_;
  std::vector<std::string> labels_;  // shortened, one per dataset
  std::vector<size_t> widths_;       // of each dataset's column
};

}  // namespace

void write_report_text(std::ostream& out, std::span<const Figures> datasets) {
  TextWriter(out, datasets).write();
}

}  // namespace personagen
