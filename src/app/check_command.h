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
//                           (a refused key, or a server not reached, stops the endpoint's check
//                           here; an unreadable 2xx, say a proxy's HTML page, only warns);
//   a tiny chat request     max_tokens 16: its latency, usage and finish_reason. The model counts
//                           as refused only on a 404, the code "model_not_found" or a message
//                           saying it does not exist; a 400 naming max_tokens (a reasoning model)
//                           warns and passes, as synth sends none without --max-tokens;
//   a response_format one   a small json_schema (json_object with --structured json_object),
//                           unless --structured off; without max_tokens if that was refused.
// Writes one line per finding to stdout ("  ok    ...", "  warn  ...", "  FAIL  ..."), a header
// per endpoint (its URL with any user:password masked, as display_url() does), and a last line
// "verdict: ...". The key is never printed: every line is masked as without_api_key() masks it,
// and any word starting "sk-" (a server quoting part of a key) as "sk-***". Returns ExitCode::ok
// when a run would work on every endpoint (warnings allowed), else ExitCode::error. Throws a usage
// Error for a bad --base-url list,
// --structured value or --timeout, and read_api_key()'s for an unreadable key file.
ExitCode run_check_command(const Options& options);

}  // namespace personagen
