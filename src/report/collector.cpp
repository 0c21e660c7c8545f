#include "report/collector.h"

namespace personagen {

Figures collect_figures(const ReportInput& input, std::vector<TextPair>* /*sample*/) {
  Figures figures;
  figures.label = input.label;
  figures.field = input.field;
  return figures;  // placeholder: the collector is being written
}

}  // namespace personagen
