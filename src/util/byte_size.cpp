#include "util/byte_size.h"

#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>

namespace personagen {

std::optional<size_t> parse_byte_size(std::string_view text) {
  size_t digits = 0;
  bool dot = false;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) ||
                                  (text[digits] == '.' && !dot))) {
    dot |= text[digits] == '.';
    ++digits;
  }
  if (digits == 0 || (digits == 1 && dot)) return std::nullopt;
  const double number = std::strtod(std::string(text.substr(0, digits)).c_str(), nullptr);
  std::string_view unit = text.substr(digits);
  double scale = 1;
  if (!unit.empty()) {
    constexpr std::string_view kUnits = "KMGT";
    const size_t power = kUnits.find(static_cast<char>(std::toupper(unit[0])));
    if (power == std::string_view::npos) {
      if (unit != "B" && unit != "b") return std::nullopt;
    } else {
      scale = std::ldexp(1.0, 10 * static_cast<int>(power + 1));
      unit.remove_prefix(1);
      if (!unit.empty() && unit != "B" && unit != "iB") return std::nullopt;
    }
  }
  const double bytes = std::floor(number * scale);
  if (!(bytes >= 1) || bytes >= static_cast<double>(SIZE_MAX)) return std::nullopt;
  return static_cast<size_t>(bytes);
}

std::string format_byte_size(size_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

size_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<size_t>(pages) * static_cast<size_t>(page_size);
}

}  // namespace personagen
