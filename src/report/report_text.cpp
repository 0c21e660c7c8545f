#include "report/report_writers.h"

namespace personagen {

void write_report_text(std::ostream& out, std::span<const Figures> datasets) {
  for (const Figures& f : datasets) out << f.label << ": " << f.run.records << " records\n";
}

}  // namespace personagen
