#pragma once

// Final answers of worked solutions: finding one in a reply, and the key that decides whether two
// answers agree (issue 11: solve with --agree). Pure functions over text; no I/O, never throw.

#include <optional>
#include <string>
#include <string_view>

namespace personagen {

// The final answer of a solution: the content of the last \boxed{...} or \fbox{...} whose braces
// balance (nested braces are fine; \{ and \} do not count), or the single token after "\boxed "
// (as in "\boxed 5"). A box whose braces never close is ignored, so an earlier one may win; when
// the last balanced box is empty there is no answer. Without any usable box, the text after the
// last "Final answer:", "The final answer is" or "The answer is" (any case) up to the end of its
// line or sentence, without a trailing period. Returns nullopt when there is no final answer.
// The answer is a trimmed, non-empty substring of `solution`. Linear in the size of `solution`.
std::optional<std::string> extract_answer(std::string_view solution);

// The comparison key of an answer: two answers agree when their keys are equal. Drops whitespace,
// `$`, \left and \right, the spacing commands \! \, \; \: and "\ ", the wrappers \text{}
// \textbf{} \textrm{} \mathrm{} \mathbf{} \mbox{} (keeping what they hold), braces around the
// whole answer, degree signs (^\circ, ^{\circ}, U+00B0, \degree), percent signs (\% and %),
// a trailing period and thousands separators (1,000 and 1{,}000 but not 1,2); \dfrac and \tfrac
// become \frac. A plain number (integer, decimal, a/b, \frac{a}{b}, \frac12, with a sign) becomes
// one canonical form of its value: an integer, a reduced fraction "p/q" when q <= 10^6, else a
// decimal with 12 significant digits; so 0.5, .50, 1/2 and \frac{1}{2} all give "1/2". Anything
// else keeps its cleaned text. Valid UTF-8 in gives valid UTF-8 out. Linear in the answer's size.
std::string normalize_answer(std::string_view answer);

}  // namespace personagen
