#pragma once

// The figures as rows of a table with one column per dataset: the one list of rows that the
// terminal summary and the HTML page both show, so that they never disagree on what a figure is
// called or how it is written. Lists (openings, histograms, names) are not rows; each writer
// shows those in its own way after the section's rows.

#include <span>
#include <string>
#include <vector>

#include "report/figures.h"

namespace personagen {

enum class ReportPart { run, length, diversity, task, similarity };

struct ReportRow {
  std::string name;                // "records", "distinct-2", ...
  std::vector<std::string> cells;  // one per dataset; "-" where a dataset lacks the figure
};

struct ReportSection {
  ReportPart part;
  std::string title;
  std::vector<ReportRow> rows;
};

// The sections in order: run, length, diversity, and task and similarity when some dataset has
// them. Rows that no dataset has (billed tokens, cost, solve, judge) are left out.
std::vector<ReportSection> report_sections(std::span<const Figures> datasets);

// "stop 12,300 · length 45": a map of counts in one cell, largest first; "-" when empty.
std::string counts_cell(const std::vector<std::pair<std::string, uint64_t>>& counts);

}  // namespace personagen
