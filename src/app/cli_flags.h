#pragma once

// The flags that several commands share, declared once: what to read and how to build each
// request (synth, render, batch), the endpoint, and synth's own.

#include <CLI/CLI.hpp>
#include <string>

#include "personagen/options.h"
#include "util/number_range.h"

namespace personagen {

inline constexpr const char* kDefaultBaseUrl = "https://api.openai.com/v1";

// Parses "100" (a count) or "5%" (a rate) for --max-failures and --max-rejects. Throws
// CLI::ValidationError without quoting the text: any value may be the key pasted in the wrong
// place.
Threshold parse_threshold(const std::string& flag, const std::string& text);

// A CLI11 check that the flag's value is a number in `r`, added with transform() since it may
// rewrite the value (see check_number); the help shows the range.
CLI::Validator in_range(NumberRange r);

// What to read and how to build each request: synth, render and batch export and run.
void add_request_flags(CLI::App& app, Options& o, bool input_required = true);

// --base-url and --api-key-file.
void add_endpoint_flags(CLI::App& app, Options& o);

// --price-in and --price-out.
void add_price_flags(CLI::App& app, Options& o);

// synth's flags beyond the request's: output, endpoint, pool, limits, behaviour. render takes
// them too, so that a synth command line renders with one word changed; its -o is optional.
void add_synth_flags(CLI::App& app, Options& o, bool output_required = true);

}  // namespace personagen
