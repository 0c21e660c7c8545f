#include "app/report_command.h"

namespace personagen {

ExitCode run_report_command(ReportOptions& /*report*/, const Options& /*options*/) {
  return ExitCode::ok;  // placeholder
}

}  // namespace personagen
