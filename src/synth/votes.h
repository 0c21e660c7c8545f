#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace personagen {

// The tally of a solve line's answers: how many samples reached each normalized answer.
struct Votes {
  // (normalized answer, samples that reached it), in the order the answers first appear.
  std::vector<std::pair<std::string, size_t>> counts;
  size_t best = 0;  // the largest count; 0 when no sample has an answer
  // The first sample whose answer has the largest count (ties go to the answer seen first), or
  // nullopt when no sample has an answer.
  std::optional<size_t> chosen;
  const std::string* answer() const;  // the chosen answer, or nullptr

  // "2/3": the chosen answer's count out of `samples`.
  std::string agreement(size_t samples) const;
};

// Tallies answers already normalized (normalize_answer in answer.h); nullopt is a sample without
// an answer (it failed), which votes for nothing.
Votes tally(std::span<const std::optional<std::string>> answers);

}  // namespace personagen
