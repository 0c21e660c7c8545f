#pragma once

// The three ways `personagen report` writes its figures. Each takes one dataset's figures or
// several (--compare), which are then shown side by side, every figure in columns.

#include <ostream>
#include <span>
#include <string>

#include "report/figures.h"

namespace personagen {

// The compact summary for the terminal (about one screen per dataset; columns with --compare).
void write_report_text(std::ostream& out, std::span<const Figures> datasets);

// Every figure as one JSON document, in the stable schema of docs/report-json.md.
std::string report_json(std::span<const Figures> datasets);

// One self-contained HTML page: inline CSS and SVG charts, no scripts, nothing from the network.
std::string report_html(std::span<const Figures> datasets);

}  // namespace personagen
