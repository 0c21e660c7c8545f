#pragma once

#include "dedup/decontam.h"
#include "dedup/dedup.h"
#include "personagen/error.h"
#include "personagen/options.h"

namespace personagen {

// `personagen dedup`: fills in what `dedup` shares with the other commands (the --base-url
// endpoints, and the API key when --embed-model asks for embeddings), runs the stages, and,
// unless --quiet, prints one line on stderr saying how many records were kept and dropped, by
// stage. Throws Error as run_dedup does.
ExitCode run_dedup_command(DedupOptions& dedup, const Options& options);

// `personagen decontam`: runs it and, unless --quiet, prints one line on stderr saying how many
// records were kept and dropped. Throws Error as run_decontam does.
ExitCode run_decontam_command(const DecontamOptions& decontam, const Options& options);

}  // namespace personagen
