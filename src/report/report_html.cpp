#include <algorithm>
#include <set>

#include "report/report_format.h"
#include "report/report_table.h"
#include "report/report_writers.h"
#include "report/svg_chart.h"

// The HTML report: one self-contained page. Why no scripts, fonts or links: the page is mailed,
// archived beside a dataset and opened offline, years later, in any browser; it must show the
// same thing everywhere and fetch nothing. The tables come from report_table.h (the same rows as
// the terminal summary), the charts from svg_chart.h; the colours are CSS variables that switch
// with prefers-color-scheme.

namespace personagen {

namespace {

constexpr size_t kMaxBins = 40;  // a histogram chart's most bars
constexpr size_t kChartLabelWidth = 40;

constexpr const char* kStyle = R"css(
:root{color-scheme:light dark;--bg:#f7f7f5;--card:#fff;--fg:#1f2328;--muted:#5f6872;--line:#dde1e6;
--track:#e7eaee;--c0:#3569b0;--c1:#d27b26;--c2:#37926a;--c3:#9b4f93;--c4:#c2474b;--c5:#66788a}
@media (prefers-color-scheme:dark){:root{--bg:#111318;--card:#181b21;--fg:#e4e6ea;--muted:#9aa3ad;
--line:#2b3038;--track:#2a2f37;--c0:#74a7f0;--c1:#f0a560;--c2:#6cc79d;--c3:#cf90c6;--c4:#f07f83;
--c5:#a8b6c6}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header,main,footer{max-width:1160px;margin:0 auto;padding:0 24px}
header{padding-top:28px}
h1{font-size:1.55rem;margin:0 0 4px;font-weight:650}
h2{font-size:1.1rem;margin:0 0 12px;font-weight:650}
h3{font-size:.9rem;margin:18px 0 8px;color:var(--muted);font-weight:600}
.sub,.note,footer{color:var(--muted)}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 22px;
margin:18px 0}
.wrap{overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:5px 12px;border-bottom:1px solid var(--line);text-align:right;vertical-align:middle}
th[scope=row],td.text,thead th.text{text-align:left}
th[scope=row]{font-weight:500}
thead th{color:var(--muted);font-weight:600;font-size:.85rem}
td.text{max-width:520px;overflow-wrap:anywhere}
tr:last-child>*{border-bottom:none}
.cols{display:flex;flex-wrap:wrap;gap:12px 36px;align-items:flex-start}
.cols>.wrap{flex:0 1 auto;max-width:100%}
.side{flex:1 1 360px;min-width:0}
.grid-2{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:8px 28px}
svg.chart{display:block;max-width:100%;height:auto;margin:6px 0}
svg .grid{stroke:var(--line);stroke-width:1}
svg .axis{stroke:var(--muted);stroke-width:1}
svg .label{fill:var(--muted);font-size:11px;font-family:inherit}
.track{fill:var(--track)}
.s0{fill:var(--c0)}.s1{fill:var(--c1)}.s2{fill:var(--c2)}.s3{fill:var(--c3)}.s4{fill:var(--c4)}
.s5{fill:var(--c5)}
.line{fill:none;stroke-width:2}
.line.s0{stroke:var(--c0)}.line.s1{stroke:var(--c1)}.line.s2{stroke:var(--c2)}
.line.s3{stroke:var(--c3)}.line.s4{stroke:var(--c4)}.line.s5{stroke:var(--c5)}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
.sw0{background:var(--c0)}.sw1{background:var(--c1)}.sw2{background:var(--c2)}
.sw3{background:var(--c3)}.sw4{background:var(--c4)}.sw5{background:var(--c5)}
svg.share{vertical-align:middle;margin-right:8px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
footer{font-size:.85rem;padding-bottom:32px}
)css";

std::string label_of(const Figures& f) {
  return shorten_label(f.label, kChartLabelWidth);
}

bool same_edges(const std::vector<const Histogram*>& hs) {
  return std::all_of(hs.begin(), hs.end(),
                     [&](const Histogram* h) { return h->edges == hs.front()->edges; });
}

// A histogram and the dataset it is of.
using Labelled = std::pair<std::string, const Histogram*>;

class HtmlWriter {
 public:
  explicit HtmlWriter(std::span<const Figures> datasets) : datasets_(datasets) {}

  std::string write() {
    head();
    out_ += "<main>\n";
    for (const ReportSection& s : report_sections(datasets_)) {
      static constexpr const char* kIds[] = {"run", "length", "diversity", "task", "similarity"};
      out_ += "<section id=\"" + std::string(kIds[static_cast<int>(s.part)]) + "\">\n<h2>" +
              html_escape(s.title) + "</h2>\n";
      // A section with one chart shows it beside its table, or below it when the table is too
      // wide to leave the chart room (many --compare columns); the lists and grids go below.
      const bool beside = s.part == ReportPart::run || s.part == ReportPart::length ||
                          s.part == ReportPart::similarity;
      out_ += "<div class=\"cols\">\n";
      table(s);
      if (beside) {
        out_ += "<div class=\"side\">\n";
        extras(s.part);
        out_ += "</div>\n";
      }
      out_ += "</div>\n";
      if (!beside) extras(s.part);
      out_ += "</section>\n";
    }
    if (std::none_of(datasets_.begin(), datasets_.end(),
                     [](const Figures& f) { return f.similarity.has_value(); })) {
      out_ += "<section id=\"similarity\">\n<h2>Similarity (embeddings)</h2>\n";
      similarity_note();
      out_ += "</section>\n";
    }
    out_ +=
        "</main>\n<footer><p>A figure written <code>~0.812 \xC2\xB1"
        "0.006</code> is an "
        "estimate (a sketch or a sample) with its 95% bound; the others are counted exactly. "
        "The same figures, with how each was estimated, are in <code>--json</code>. Written "
        "by <code>personagen report</code>; this page has no scripts and loads nothing.</p>"
        "</footer>\n</body>\n</html>\n";
    return std::move(out_);
  }

 private:
  void head() {
    std::string title = "personagen report";
    if (datasets_.size() == 1) title += ": " + label_of(datasets_[0]);
    out_ +=
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"color-scheme\" content=\"light dark\">\n<title>" +
        html_escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
    out_ += "<header>\n<h1>Dataset report</h1>\n";
    if (datasets_.size() == 1) {
      const Figures& f = datasets_[0];
      out_ += "<p class=\"sub\">" + html_escape(f.label) + " \xC2\xB7 " +
              with_commas(f.run.records) + " records \xC2\xB7 field <code>" + html_escape(f.field) +
              "</code></p>\n";
    } else {
      out_ += "<p class=\"sub\">Comparing " + std::to_string(datasets_.size()) + " datasets: ";
      for (size_t d = 0; d < datasets_.size(); ++d) {
        out_ += std::string(d > 0 ? " \xC2\xB7 " : "") + "<span class=\"swatch sw" +
                std::to_string(d % 6) + "\"></span>" + html_escape(datasets_[d].label);
      }
      out_ += "</p>\n";
    }
    out_ += "</header>\n";
  }

  void table(const ReportSection& s) {
    out_ += "<div class=\"wrap\"><table>\n<thead><tr><th class=\"text\">figure</th>";
    for (size_t d = 0; d < datasets_.size(); ++d) {
      out_ +=
          "<th title=\"" + html_escape(datasets_[d].label) + "\">" +
          (datasets_.size() > 1 ? "<span class=\"swatch sw" + std::to_string(d % 6) + "\"></span>"
                                : "") +
          html_escape(label_of(datasets_[d])) + "</th>";
    }
    out_ += "</tr></thead>\n<tbody>\n";
    for (const ReportRow& row : s.rows) {
      out_ += "<tr><th scope=\"row\">" + html_escape(row.name) + "</th>";
      for (const std::string& cell : row.cells) out_ += "<td>" + html_escape(cell) + "</td>";
      out_ += "</tr>\n";
    }
    out_ += "</tbody></table></div>\n";
  }

  void extras(ReportPart part) {
    switch (part) {
      case ReportPart::run:
        attempts_chart();
        break;
      case ReportPart::length: {
        std::vector<Labelled> hs;
        for (const Figures& f : datasets_) hs.emplace_back(label_of(f), &f.words.histogram);
        histograms("Words per output", hs, "words per output");
        break;
      }
      case ReportPart::diversity:
        top_tables(
            "Most common openings (first four words)", "opening",
            [](const Figures& f) -> const std::vector<TopEntry>& { return f.diversity.openings; });
        break;
      case ReportPart::task:
        task_extras();
        break;
      case ReportPart::similarity:
        similarity_chart();
        break;
    }
  }

  // A chart per histogram, or one with a series per dataset when their bins are the same: then
  // in shares, since the datasets' sizes differ.
  void histograms(const std::string& title, const std::vector<Labelled>& hs,
                  const std::string& x_label) {
    std::vector<Histogram> coarse;
    for (const auto& [label, h] : hs) coarse.push_back(coarsen(*h, kMaxBins));
    out_ += "<h3>" + html_escape(title) + "</h3>\n";
    std::vector<const Histogram*> ptrs;
    for (const Histogram& h : coarse) ptrs.push_back(&h);
    if (coarse.size() == 1 || same_edges(ptrs)) {
      BarChart chart{title,
                     histogram_categories(coarse.front()),
                     {},
                     x_label,
                     coarse.size() > 1 ? "share of records" : "records",
                     coarse.size() > 1};
      for (size_t d = 0; d < coarse.size(); ++d) {
        chart.series.push_back(histogram_series(coarse[d], hs[d].first, coarse.size() > 1));
      }
      out_ += svg_bar_chart(chart) + "\n";
      return;
    }
    out_ += "<div class=\"grid-2\">\n";
    for (size_t d = 0; d < coarse.size(); ++d) {
      BarChart chart{
          title + ": " + hs[d].first, histogram_categories(coarse[d]), {}, x_label, "records"};
      chart.series.push_back(histogram_series(coarse[d], hs[d].first, false));
      out_ += "<figure>" + svg_bar_chart(chart) + "<figcaption>" + html_escape(hs[d].first) +
              "</figcaption></figure>\n";
    }
    out_ += "</div>\n";
  }

  void attempts_chart() {
    std::set<int> keys;
    for (const Figures& f : datasets_) {
      for (const auto& [attempts, n] : f.run.attempts) keys.insert(attempts);
    }
    if (keys.empty()) return;
    const bool compare = datasets_.size() > 1;
    BarChart chart{"Attempts per record",
                   {},
                   {},
                   "attempts",
                   compare ? "share of records" : "records",
                   compare};
    chart.width = 400;  // beside the run's wide table
    chart.height = 220;
    for (int k : keys) chart.categories.push_back(std::to_string(k));
    for (const Figures& f : datasets_) {
      ChartSeries s{label_of(f), {}, {}};
      uint64_t total = 0;
      for (const auto& [attempts, n] : f.run.attempts) total += n;
      for (int k : keys) {
        const auto it = f.run.attempts.find(k);
        const uint64_t n = it == f.run.attempts.end() ? 0 : it->second;
        const double share = total == 0 ? 0 : static_cast<double>(n) / total;
        s.values.push_back(compare ? share : static_cast<double>(n));
        s.tips.push_back(std::to_string(k) + " attempts: " + with_commas(n) + " (" +
                         format_share(share) + ")");
      }
      chart.series.push_back(std::move(s));
    }
    out_ += "<h3>Attempts per record</h3>\n" + svg_bar_chart(chart) + "\n";
  }

  template <typename Entries>
  void top_tables(const std::string& title, const std::string& what, Entries entries_of) {
    bool any = false;
    for (const Figures& f : datasets_) any = any || !entries_of(f).empty();
    if (!any) return;
    out_ += "<h3>" + html_escape(title) + "</h3>\n<div class=\"grid-2\">\n";
    for (const Figures& f : datasets_) {
      const std::vector<TopEntry>& entries = entries_of(f);
      out_ += "<div class=\"wrap\">";
      if (datasets_.size() > 1) out_ += "<p class=\"note\">" + html_escape(label_of(f)) + "</p>";
      if (entries.empty()) {
        out_ += "<p class=\"note\">none</p></div>\n";
        continue;
      }
      out_ += "<table><thead><tr><th>#</th><th class=\"text\">" + html_escape(what) +
              "</th><th class=\"text\">share</th><th>records</th></tr></thead><tbody>\n";
      // The bars are drawn against the most common entry, so that small shares still differ.
      double top = 0;
      for (const TopEntry& e : entries) top = std::max(top, e.share);
      for (size_t i = 0; i < entries.size(); ++i) {
        const TopEntry& e = entries[i];
        std::string count = with_commas(e.count);
        if (e.error > 0) count += " \xC2\xB1" + with_commas(e.error);
        out_ += "<tr><td>" + std::to_string(i + 1) + "</td><td class=\"text\">" +
                html_escape(e.key) + "</td><td class=\"text\">" +
                svg_share_bar(top > 0 ? e.share / top : 0) + format_share(e.share) + "</td><td>" +
                count + "</td></tr>\n";
      }
      out_ += "</tbody></table></div>\n";
    }
    out_ += "</div>\n";
  }

  void task_extras() {
    std::set<std::string> criteria;
    for (const Figures& f : datasets_) {
      if (!f.task.judge) continue;
      for (const auto& [criterion, h] : f.task.judge->scores) criteria.insert(criterion);
    }
    if (!criteria.empty()) out_ += "<div class=\"grid-2\">\n";
    for (const std::string& criterion : criteria) {
      std::vector<Labelled> hs;
      for (const Figures& f : datasets_) {
        if (!f.task.judge) continue;
        const auto it = f.task.judge->scores.find(criterion);
        if (it != f.task.judge->scores.end()) hs.emplace_back(label_of(f), &it->second);
      }
      out_ += "<div>";
      histograms("Judge score: " + criterion, hs, criterion + " score");
      out_ += "</div>\n";
    }
    if (!criteria.empty()) out_ += "</div>\n";
    top_tables("Most common names", "name",
               [](const Figures& f) -> const std::vector<TopEntry>& { return f.task.names; });
    top_tables("Most common keys", "key",
               [](const Figures& f) -> const std::vector<TopEntry>& { return f.task.keys; });
  }

  void similarity_chart() {
    LineChart chart{"Output similarity against persona similarity",
                    {},
                    "persona cosine (bin)",
                    "mean output cosine"};
    double low = 1, high = 0;
    for (const Figures& f : datasets_) {
      if (!f.similarity) continue;
      LineSeries s{label_of(f), {}, {}};
      for (const SimilarityBin& b : f.similarity->bins) {
        low = std::min(low, b.persona_low);
        high = std::max(high, b.persona_high);
        s.points.emplace_back((b.persona_low + b.persona_high) / 2, b.mean_output);
        s.tips.push_back("persona " + format_number(b.persona_low, 2) + "-" +
                         format_number(b.persona_high, 2) + ": output " +
                         format_number(b.mean_output, 3) + " (" + with_commas(b.pairs) + " pairs)");
      }
      chart.series.push_back(std::move(s));
    }
    chart.x_min = std::min(0.0, low);
    chart.x_max = std::max(1.0, high);
    out_ +=
        "<h3>Output cosine against persona cosine</h3>\n<p class=\"note\">For pairs of "
        "records: how alike their outputs are, by how alike their personas are. A flat line "
        "means the outputs do not follow the personas.</p>\n" +
        svg_line_chart(chart) + "\n";
    for (const Figures& f : datasets_) {
      if (!f.similarity) {
        out_ += "<p class=\"note\">" + html_escape(label_of(f)) + ": not measured.</p>\n";
      }
    }
  }

  void similarity_note() {
    out_ +=
        "<p class=\"note\">Not measured. Add <code>--embed-model MODEL</code> to "
        "<code>personagen report</code> to embed a sample of the records and chart how "
        "similar their outputs are against how similar their personas are.</p>\n";
  }

  std::span<const Figures> datasets_;
  std::string out_;
};

}  // namespace

std::string report_html(std::span<const Figures> datasets) {
  return HtmlWriter(datasets).write();
}

}  // namespace personagen
