#pragma once

#include <CLI/CLI.hpp>

#include "personagen/error.h"
#include "personagen/options.h"

namespace personagen {

// Adds the `check` subcommand to `app`, with synth's endpoint flags (--base-url, --model,
// --api-key-file, --structured, --timeout), which land in `options`.
CLI::App* add_check_command(CLI::App& app, Options& options);

// `personagen check`: whether a synth run against each --base-url would work, before starting
// one. For every endpoint, at most three requests, none retried:
//   GET /models             the models the server offers, and whether --model is among them
//                           (a refused key stops the endpoint's check here);
//   a tiny chat request     max_tokens 16: its latency, usage and finish_reason;
//   a response_format one   a small json_schema (json_object with --structured json_object),
//                           unless --structured off.
// Writes one line per finding to stdout ("  ok    ...", "  warn  ...", "  FAIL  ..."), a header
// per endpoint, and a last line "verdict: ...". The key is never printed: every line is masked
// as without_api_key() masks it. Returns ExitCode::ok when a run would work on every endpoint
// (warnings allowed), else ExitCode::error. Throws a usage Error for a bad --base-url list,
// --structured value or --timeout, and read_api_key()'s for an unreadable key file.
ExitCode run_check_command(const Options& options);

}  // namespace personagen
