#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace personagen {

// Numbers larger than this are refused for flags without a type's own limit (durations, rates,
// prices): seconds this large still fit in nanoseconds and milliseconds with room to spare.
inline constexpr long double kMaxFlagNumber = 1e9;

// What a numeric command-line flag accepts: a finite number in [min, max] (or (min, max]), and
// for a whole number plain decimal digits.
struct NumberRange {
  bool whole = false;  // an integer
  long double min = 0;
  long double max = kMaxFlagNumber;
  bool above_min = false;  // min itself is not allowed
  bool show_max = false;   // messages name the maximum even for a value below it
};

// The range of a whole-number flag of type T: from `min` up to what T holds.
template <class T>
NumberRange whole_at_least(T min) {
  return {.whole = true,
          .min = static_cast<long double>(min),
          .max = static_cast<long double>(std::numeric_limits<T>::max())};
}

// Empty if `text` is a number in `range`, else what was expected, such as "expected a number
// from 0 to 2" (never the text itself: it may be the API key pasted in the wrong place). Refuses
// "nan", "inf", hexadecimal and blanks. A whole number is rewritten in plain decimal ("+010"
// becomes "10"), since the flag parser would read a leading 0 as octal.
std::string check_number(std::string& text, const NumberRange& range);

// The range for --help: "[0, 2]", "(0, 1]", ">= 1" or "> 0".
std::string describe(const NumberRange& range);

}  // namespace personagen
