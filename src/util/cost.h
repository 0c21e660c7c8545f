#pragma once

// What requests cost: their tokens, estimated before sending, and their price.

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "personagen/options.h"

namespace personagen {

// Tokens of a request body, estimated at four bytes a token (GPT-style BPE on English text; code
// and non-Latin scripts take more tokens per byte). The body's JSON around the messages is counted
// too, as is a response_format schema, which servers also bill as prompt tokens. --tpm and
// --dry-run both estimate with this.
inline uint64_t estimate_body_tokens(uint64_t body_bytes) {
  return (body_bytes + 3) / 4;
}

// Dollars for these tokens at `price_in` and `price_out` (USD per million prompt and completion
// tokens), or nullopt when neither price is given: the one price formula (the progress line,
// --max-cost, the dry run, the dataset card and the report all use it).
inline std::optional<double> cost_of(uint64_t prompt_tokens, uint64_t completion_tokens,
                                     std::optional<double> price_in,
                                     std::optional<double> price_out) {
  if (!price_in && !price_out) return std::nullopt;
  return (static_cast<double>(prompt_tokens) * price_in.value_or(0) +
          static_cast<double>(completion_tokens) * price_out.value_or(0)) /
         1e6;
}

// The same at --price-in and --price-out.
inline std::optional<double> cost_of(uint64_t prompt_tokens, uint64_t completion_tokens,
                                     const Options& options) {
  return cost_of(prompt_tokens, completion_tokens, options.price_in, options.price_out);
}

// "$1.2346": dollars as people read them, to a hundredth of a cent.
inline std::string dollars(double amount) {
  char text[64];
  std::snprintf(text, sizeof text, "$%.4f", amount);
  return text;
}

}  // namespace personagen
