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

// Dollars for these tokens at --price-in and --price-out (per million tokens), or nullopt when
// neither price is given.
inline std::optional<double> cost_of(uint64_t prompt_tokens, uint64_t completion_tokens,
                                     const Options& options) {
  if (!options.price_in && !options.price_out) return std::nullopt;
  return (static_cast<double>(prompt_tokens) * options.price_in.value_or(0) +
          static_cast<double>(completion_tokens) * options.price_out.value_or(0)) /
         1e6;
}

// "$1.2346": dollars as people read them, to a hundredth of a cent.
inline std::string dollars(double amount) {
  char text[64];
  std::snprintf(text, sizeof text, "$%.4f", amount);
  return text;
}

}  // namespace personagen
