#include "synth/votes.h"

namespace personagen {

const std::string* Votes::answer() const {
  if (!chosen) return nullptr;
  for (const auto& [answer, count] : counts)
    if (count == best) return &answer;
  return nullptr;
}

std::string Votes::agreement(size_t samples) const {
  return std::to_string(best) + "/" + std::to_string(samples);
}

Votes tally(std::span<const std::optional<std::string>> answers) {
  Votes votes;
  std::vector<size_t> first_sample;  // by counts' index: the first sample with that answer
  for (size_t i = 0; i < answers.size(); ++i) {
    if (!answers[i]) continue;
    size_t at = 0;
    while (at < votes.counts.size() && votes.counts[at].first != *answers[i]) ++at;
    if (at == votes.counts.size()) {
      votes.counts.emplace_back(*answers[i], 0);
      first_sample.push_back(i);
    }
    size_t count = ++votes.counts[at].second;
    // Strictly more: on a tie the answer that appeared first keeps the lead.
    if (count > votes.best) {
      votes.best = count;
      votes.chosen = first_sample[at];
    } else if (count == votes.best && first_sample[at] < *votes.chosen) {
      votes.chosen = first_sample[at];
    }
  }
  return votes;
}

}  // namespace personagen
