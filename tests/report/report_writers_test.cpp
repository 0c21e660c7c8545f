// Tests for the report's writers: the terminal summary, the JSON (against its documented
// schema, docs/report-json.md) and the HTML page, on figures built by hand.

#include "report/report_writers.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

#include "report/report_format.h"
#include "report/svg_chart.h"
#include "report_fixture.h"

namespace personagen {
namespace {

using nlohmann::json;
using report_test::full_figures;
using report_test::plain_figures;

std::string text_of(const std::vector<Figures>& datasets) {
  std::ostringstream out;
  write_report_text(out, datasets);
  return out.str();
}

// The first line of `text` that contains `needle`, or "".
std::string line_with(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) return line;
  }
  return "";
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(ReportFormat, NumbersEstimatesAndBins) {
  EXPECT_EQ(with_commas(1234567), "1,234,567");
  EXPECT_EQ(with_commas(12), "12");
  EXPECT_EQ(format_estimate(Estimate{0.8123, 0.0061, false, "hll"}, 3),
            "~0.812 \xC2\xB1"
            "0.006");
  EXPECT_EQ(format_estimate(Estimate{0.5, 0, true, "exact"}, 3), "0.500");
  EXPECT_EQ(format_estimate(Estimate{9876, 120, false, "hll"}, 0),
            "~9,876 \xC2\xB1"
            "120");
  EXPECT_EQ(format_share(0.1234), "12.3%");
  EXPECT_EQ(format_cost(12345.6), "$12,345.60");
  EXPECT_EQ(format_cost(0.0042), "$0.0042");
  EXPECT_EQ(format_words(70), "70");
  EXPECT_EQ(format_words(70.5), "70.5");
  const Histogram h = report_test::histogram(0, 10, {1, 2, 3, 4, 5});
  EXPECT_EQ(bin_label(h, 1), "10-19");
  EXPECT_EQ(bin_label(report_test::histogram(1, 1, {1, 2}), 0), "1");
  const Histogram coarse = coarsen(h, 2);
  ASSERT_EQ(coarse.counts, (std::vector<uint64_t>{6, 9}));
  EXPECT_EQ(coarse.edges, (std::vector<double>{0, 30, 50}));
  EXPECT_EQ(shorten_label("/very/long/path/to/run", 10),
            "\xE2\x80\xA6"
            "th/to/run");
  EXPECT_EQ(shorten_text("line\nbreak", 20), "line break");
  EXPECT_EQ(display_width("\xC2\xB1"
                          "ab"),
            3u);
}

TEST(ReportText, OneDatasetHasEveryFigure) {
  // Given one dataset with every figure, when the summary is written, then each shows.
  const std::string text = text_of({full_figures("out/math")});
  EXPECT_NE(text.find("personagen report: out/math"), std::string::npos) << text;
  for (const char* figure : {"records",
                             "failures",
                             "rejects",
                             "unverified",
                             "below threshold",
                             "finish reasons",
                             "attempts",
                             "prompt tokens",
                             "billed prompt tokens",
                             "cost",
                             "p10",
                             "p50",
                             "p90",
                             "p99",
                             "distinct-1",
                             "distinct-2",
                             "distinct-3",
                             "near-dup (Jaccard 0.9)",
                             "near-dup (Jaccard 0.7)",
                             "personas covered",
                             "outputs per persona",
                             "agreement",
                             "mean overall score",
                             "mean output cosine"}) {
    EXPECT_NE(line_with(text, figure), "") << figure << " is missing:\n" << text;
  }
  EXPECT_NE(line_with(line_with(text, "records"), "12,345"), "") << text;
  EXPECT_NE(line_with(text, "distinct-2")
                .find("~0.812 \xC2\xB1"
                      "0.006"),
            std::string::npos);
  EXPECT_NE(line_with(text, "cost").find("$12.35"), std::string::npos);
  EXPECT_NE(line_with(text, "finish reasons").find("stop 12,222"), std::string::npos) << text;
  // The openings with their share, and a histogram of bars.
  EXPECT_NE(line_with(text, "\"math problem: a farmer\"").find("4.2%"), std::string::npos);
  EXPECT_NE(text.find("\xE2\x96\x88"), std::string::npos);
  EXPECT_NE(line_with(text, "persona 0.20-0.40"), "") << text;
  EXPECT_EQ(text.find("\x1b["), std::string::npos) << "no colour codes";
  // About one screen.
  EXPECT_LT(count_of(text, "\n"), 90u) << text;
}

TEST(ReportText, KeysFromTheDataReachTheTerminalWithoutControlCharacters) {
  // Given a finish reason that holds an escape sequence, when the summary is written,
  Figures f = full_figures("out/math");
  f.run.finish_reasons = {{"\x1b[31mred\nline", 3}};
  const std::string text = text_of({f});
  // then it shows on one line, and no escape byte reaches the terminal.
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_NE(text.find("[31mred line 3"), std::string::npos) << text;
}

TEST(ReportText, TwoDatasetsInColumns) {
  // Given two datasets, when the summary is written, then every row has one column per
  // dataset, under a header of their labels, and the openings are listed per dataset.
  const std::string text =
      text_of({full_figures("nightly/2026-12-04", 12345, 1), plain_figures("nightly/2026-12-05")});
  const std::string header = line_with(text, "nightly/2026-12-04");
  EXPECT_NE(header.find("nightly/2026-12-05"), std::string::npos) << text;
  EXPECT_LT(header.find("2026-12-04"), header.find("2026-12-05"));
  const std::string records = line_with(text, "  records");
  EXPECT_NE(records.find("12,345"), std::string::npos) << text;
  EXPECT_NE(records.find(" 20"), std::string::npos) << text;
  EXPECT_LT(records.find("12,345"), records.find(" 20"));
  // A figure only the first has shows as "-" in the second's column.
  EXPECT_EQ(line_with(text, "cost").substr(line_with(text, "cost").size() - 1), "-") << text;
  EXPECT_NE(line_with(text, "most common openings (nightly/2026-12-04)"), "") << text;
  EXPECT_NE(line_with(text, "most common openings (nightly/2026-12-05)"), "") << text;
  // Columns line up: the records and p50 rows end at the same column.
  EXPECT_EQ(display_width(records), display_width(line_with(text, "  p50")));
}

TEST(ReportText, SaysHowToGetSimilarity) {
  const std::string text = text_of({plain_figures("plain.jsonl")});
  EXPECT_NE(text.find("--embed-model"), std::string::npos) << text;
  EXPECT_EQ(line_with(text, "billed prompt tokens"), "") << "no manifest, no billed row";
}

// docs/report-json.md's keys: every table row "| `path` | type | ...", path -> type.
std::map<std::string, std::string> documented_keys() {
  std::ifstream in(std::string(PERSONAGEN_SOURCE_DIR) + "/docs/report-json.md");
  EXPECT_TRUE(in) << "docs/report-json.md is missing";
  std::map<std::string, std::string> keys;
  const std::regex row(R"(^\| `([^`]+)` \| ([^|]+?) \|)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) keys[m[1]] = m[2];
  }
  return keys;
}

// Every key path in `value` ("datasets[].run.records"), checked against the documented keys as
// it goes: estimates, histograms and top entries must have exactly the documented keys of
// their kind, and maps are not walked into.
void walk(const json& value, const std::string& path, const std::map<std::string, std::string>& doc,
          std::set<std::string>& seen) {
  const auto members_of = [&](const std::string& kind) {
    std::set<std::string> members;
    for (const auto& [key, type] : doc) {
      if (key.starts_with(kind + ".")) members.insert(key.substr(kind.size() + 1));
    }
    return members;
  };
  const auto keys_of = [](const json& object) {
    std::set<std::string> keys;
    for (const auto& [key, v] : object.items()) keys.insert(key);
    return keys;
  };
  if (!path.empty()) {
    seen.insert(path);
    const auto it = doc.find(path);
    ASSERT_NE(it, doc.end()) << "the JSON has " << path << ", which docs/report-json.md lacks";
    const std::string& type = it->second;
    if (value.is_null()) {
      EXPECT_NE(type.find("or null"), std::string::npos) << path << " is null but is " << type;
      return;
    }
    if (type.starts_with("estimate")) {
      EXPECT_EQ(keys_of(value), members_of("<estimate>")) << path;
      EXPECT_TRUE(value["error"].is_number() && value["exact"].is_boolean()) << path;
      return;
    }
    if (type.starts_with("histogram")) {
      EXPECT_EQ(keys_of(value), members_of("<histogram>")) << path;
      // One edge more than bins, or neither (nothing counted).
      EXPECT_EQ(value["edges"].size(), value["counts"].size() + (value["edges"].empty() ? 0 : 1))
          << path;
      return;
    }
    if (type.starts_with("top list")) {
      ASSERT_TRUE(value.is_array()) << path;
      for (const json& entry : value) EXPECT_EQ(keys_of(entry), members_of("<top>")) << path;
      return;
    }
    if (type.starts_with("map of histogram")) {
      for (const auto& [key, h] : value.items()) EXPECT_EQ(keys_of(h), members_of("<histogram>"));
      return;
    }
    if (type.starts_with("map")) {
      ASSERT_TRUE(value.is_object()) << path;
      for (const auto& [key, n] : value.items()) EXPECT_TRUE(n.is_number_unsigned()) << path;
      return;
    }
    if (type.starts_with("integer")) {
      EXPECT_TRUE(value.is_number_unsigned()) << path;
    }
    if (type.starts_with("number")) {
      EXPECT_TRUE(value.is_number()) << path;
    }
    if (type.starts_with("string")) {
      EXPECT_TRUE(value.is_string()) << path;
    }
  }
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      walk(member, path.empty() ? key : path + "." + key, doc, seen);
    }
  } else if (value.is_array()) {
    // An array's elements have no key of their own; an object element's members do.
    for (const json& element : value) {
      if (!element.is_object()) continue;
      for (const auto& [key, member] : element.items()) {
        walk(member, path + "[]." + key, doc, seen);
      }
    }
  }
}

TEST(ReportJson, MatchesTheDocumentedSchema) {
  // Given a dataset with every figure, one with the optional ones missing and one of no records
  // (whose means and shares are undefined), when the JSON is written, then it parses, names its
  // schema, and has exactly the documented keys, null only where the documentation says so.
  Figures empty;
  empty.label = "empty.jsonl";
  const std::vector<Figures> datasets{full_figures("out/math"), plain_figures("plain.jsonl"),
                                      empty};
  const json report = json::parse(report_json(datasets));
  EXPECT_EQ(report["schema"], "personagen.report/1");
  ASSERT_EQ(report["datasets"].size(), 3u);
  EXPECT_TRUE(report["datasets"][2]["length"]["p50"].is_null());
  const std::map<std::string, std::string> doc = documented_keys();
  ASSERT_GT(doc.size(), 50u) << "the key tables of docs/report-json.md were not found";
  std::set<std::string> seen;
  walk(report, "", doc, seen);
  for (const auto& [key, type] : doc) {
    if (!key.starts_with("<")) {
      EXPECT_TRUE(seen.contains(key)) << key << " is documented, not written";
    }
  }
}

TEST(ReportJson, EstimatesCarryTheirBound) {
  const json report = json::parse(report_json(std::vector<Figures>{full_figures("out/math")}));
  const json& d = report["datasets"][0];
  EXPECT_EQ(d["label"], "out/math");
  const json& distinct2 = d["diversity"]["distinct_2"];
  EXPECT_DOUBLE_EQ(distinct2["value"].get<double>(), 0.812);
  EXPECT_DOUBLE_EQ(distinct2["error"].get<double>(), 0.006);
  EXPECT_EQ(distinct2["exact"], false);
  EXPECT_EQ(distinct2["method"], "hyperloglog p=14");
  EXPECT_EQ(d["diversity"]["distinct_1"]["exact"], true);
  EXPECT_EQ(d["diversity"]["distinct_1"]["error"], 0.0);
  EXPECT_EQ(d["run"]["attempts"]["2"], 988);
  EXPECT_EQ(d["diversity"]["openings"][0]["key"], "math problem: a farmer");
  EXPECT_EQ(d["similarity"]["bins"].size(), 5u);
  // Keys in a stable order: "schema" first, then the run before the length.
  const std::string text = report_json(std::vector<Figures>{full_figures("out/math")});
  EXPECT_LT(text.find("\"schema\""), text.find("\"datasets\""));
  EXPECT_LT(text.find("\"run\""), text.find("\"length\""));
}

TEST(ReportJson, InvalidUtf8InTheDataStillGivesJson) {
  Figures f = plain_figures("bad\xFFlabel");
  f.diversity.openings[0].key = "caf\xC3";
  const json report = json::parse(report_json(std::vector<Figures>{f}));
  EXPECT_EQ(report["datasets"][0]["label"], "bad\xEF\xBF\xBDlabel");
}

// Checks that the tags of `html` nest: every opened element is closed in order, apart from
// void elements and self-closed ones. Returns "" or what is wrong.
std::string tag_balance(const std::string& html) {
  static const std::set<std::string> kVoid{"meta", "br", "hr", "img", "input", "link", "col"};
  std::vector<std::string> open;
  for (size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
    if (html.compare(at, 2, "<!") == 0) continue;
    const size_t end = html.find('>', at);
    if (end == std::string::npos) return "a tag at " + std::to_string(at) + " never ends";
    const std::string tag = html.substr(at + 1, end - at - 1);
    const bool closing = tag.starts_with("/");
    const std::string name =
        tag.substr(closing ? 1 : 0, tag.find_first_of(" />", 1) - (closing ? 1 : 0));
    if (closing) {
      if (open.empty() || open.back() != name) {
        return "</" + name + "> at " + std::to_string(at) + " closes " +
               (open.empty() ? "nothing" : "<" + open.back() + ">");
      }
      open.pop_back();
    } else if (!tag.ends_with("/") && !kVoid.contains(name)) {
      open.push_back(name);
    }
  }
  return open.empty() ? "" : "<" + open.back() + "> is never closed";
}

TEST(ReportHtml, SelfContainedAndWellFormed) {
  // Given two datasets, when the page is written, then it is one document with balanced
  // elements, charts, no scripts and nothing that loads from anywhere.
  const std::string html =
      report_html(std::vector<Figures>{full_figures("out/a"), full_figures("out/b", 900, 1.2)});
  EXPECT_TRUE(html.starts_with("<!doctype html>"));
  EXPECT_EQ(tag_balance(html), "");
  EXPECT_EQ(count_of(html, "<svg"), count_of(html, "</svg>"));
  EXPECT_GE(count_of(html, "<svg class=\"chart\""), 6u)
      << "length, attempts, 4 judge scores, similarity";
  for (const char* banned :
       {"<script", "http", "href=", "src=", "url(", "@import", "<link", "<img"}) {
    EXPECT_EQ(html.find(banned), std::string::npos) << banned;
  }
  EXPECT_NE(html.find("prefers-color-scheme:dark"), std::string::npos);
  // Compared: both datasets as series of one chart, and in the tables' columns.
  EXPECT_NE(html.find("class=\"s1\""), std::string::npos);
  EXPECT_NE(html.find("<th title=\"out/b\">"), std::string::npos);
  EXPECT_NE(html.find("<polyline class=\"line s1\""), std::string::npos) << "similarity overlaid";
  EXPECT_NE(html.find("~0.812 \xC2\xB1"
                      "0.006"),
            std::string::npos);
}

TEST(ReportHtml, EscapesTheData) {
  // Given text from the data that is markup, when the page is written, then it shows as text.
  Figures f = plain_figures("runs/<b>&\"x\"");
  f.diversity.openings[0].key = "<script>alert(1)</script> now";
  f.field = "out'put";
  const std::string html = report_html(std::vector<Figures>{f});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; now"), std::string::npos);
  EXPECT_NE(html.find("runs/&lt;b&gt;&amp;&quot;x&quot;"), std::string::npos);
  EXPECT_NE(html.find("out&#39;put"), std::string::npos);
  EXPECT_EQ(tag_balance(html), "");
}

TEST(ReportHtml, SaysHowToGetTheSimilarityChart) {
  const std::string html = report_html(std::vector<Figures>{plain_figures("plain.jsonl")});
  EXPECT_NE(html.find("<code>--embed-model MODEL</code>"), std::string::npos);
  EXPECT_EQ(html.find("<polyline"), std::string::npos);
  EXPECT_EQ(tag_balance(html), "");
}

TEST(ReportHtml, DifferentBinsGetOneChartEach) {
  Figures a = plain_figures("a"), b = plain_figures("b");
  b.words.histogram = report_test::histogram(0, 25, {1, 2, 3});
  const std::string html = report_html(std::vector<Figures>{a, b});
  EXPECT_EQ(count_of(html, "<figcaption>"), 2u);
  EXPECT_EQ(tag_balance(html), "");
}

TEST(ReportHtml, AChartGoesBelowATableTooWideForItsSide) {
  // Given seven datasets, whose tables are too wide for a chart beside them, when the page is
  // written
  const std::string html = report_html(report_test::compared_figures(7));
  // Then a table and its chart are boxes that wrap: the chart keeps at least 360 px or takes
  // the next line, and a table wider than the page scrolls in its own box
  EXPECT_NE(html.find(".cols{display:flex;flex-wrap:wrap;"), std::string::npos);
  EXPECT_NE(html.find(".cols>.wrap{flex:0 1 auto;max-width:100%}"), std::string::npos);
  EXPECT_NE(html.find(".wrap{overflow-x:auto}"), std::string::npos);
  EXPECT_NE(html.find(".side{flex:1 1 360px;"), std::string::npos);
  EXPECT_EQ(html.find("grid-template-columns:minmax(0,auto)"), std::string::npos)
      << "a grid column squeezed the chart to nothing";
  // run (attempts), length and similarity each have one chart beside their table
  EXPECT_EQ(count_of(html, "<div class=\"cols\">\n<div class=\"wrap\"><table>"), 5u);
  EXPECT_EQ(count_of(html, "</table></div>\n<div class=\"side\">\n"), 3u);
  EXPECT_EQ(tag_balance(html), "");
}

TEST(SvgChart, BarsAndEmptyCharts) {
  BarChart chart{"Tall <bars>", {"1", "2", "3"}, {{"one", {1, 5, 2}, {}}}, "x", "y"};
  const std::string svg = svg_bar_chart(chart);
  EXPECT_EQ(count_of(svg, "<rect class=\"s0\""), 3u);
  EXPECT_NE(svg.find("<title>Tall &lt;bars&gt;</title>"), std::string::npos);
  EXPECT_EQ(tag_balance(svg), "");
  BarChart no_bars;
  no_bars.title = "empty";
  EXPECT_NE(svg_bar_chart(no_bars).find("no data"), std::string::npos);
  LineChart no_lines;
  no_lines.title = "empty";
  EXPECT_NE(svg_line_chart(no_lines).find("no data"), std::string::npos);
  EXPECT_NE(svg_share_bar(0.5, 100).find("width=\"50.0\""), std::string::npos);
  EXPECT_EQ(html_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}

}  // namespace
}  // namespace personagen
