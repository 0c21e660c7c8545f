#pragma once

#include "personagen/error.h"
#include "personagen/options.h"

namespace personagen {

// `personagen synth`: the main job. Streams personas, requests completions, writes shards.
// Resumes a run found in the output directory. Returns the exit code; throws Error for
// configuration and fatal errors (401/403, I/O).
ExitCode run_synth(const Options& options);

// `personagen render`: prints the exact request bodies synth would send, one per line, to stdout.
// No network.
ExitCode run_render(const Options& options);

// `personagen synth --dry-run` and `batch export --dry-run`: reads and selects the input, renders
// every request without sending any, and prints the personas, requests, tokens and cost range to
// stdout (and --summary as JSON). Nothing is written to --output.
ExitCode run_dry_run(const Options& options);

// `personagen tasks`: lists tasks, methods and where each template comes from.
ExitCode run_tasks(const Options& options);

// `personagen dedup` and `personagen decontam` take their own options, declared beside them in
// src/dedup/; their entry points are in src/app/dedup_commands.h.

// Parses the command line and runs the command (synth, render, tasks, dedup or decontam). The
// whole program, minus main().
int run(int argc, char** argv);

}  // namespace personagen
