#pragma once

// The canonical form of a plain number in a final answer, so that 0.5, .50, 1/2 and \frac{1}{2}
// agree (normalize_answer in synth/answer.h uses it). A pure function over text; never throws.

#include <optional>
#include <string>
#include <string_view>

namespace personagen {

// `text` as one canonical form of its value when it is a plain number: [sign] decimal,
// decimal/decimal, or \frac{a}{b} (also \frac12) with decimal arguments. The form is an integer,
// a reduced fraction "p/q" when q <= 10^6, else a decimal with 12 significant digits; values past
// 18 digits are compared by that decimal. nullopt for anything else, and for a zero denominator.
std::optional<std::string> canonical_number(std::string_view text);

}  // namespace personagen
