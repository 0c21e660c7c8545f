#include "report/report_writers.h"

namespace personagen {

std::string report_html(std::span<const Figures> /*datasets*/) {
  return "<!doctype html><title>personagen report</title>\n";
}

}  // namespace personagen
