#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace personagen {

// A limit given as a count ("100") or a rate ("5%"), for --max-failures and --max-rejects.
struct Threshold {
  bool set = false;
  bool is_rate = false;
  double value = 0;  // a count, or a fraction in [0, 1]

  // True when `bad` out of `total` outcomes is over the limit. A rate only counts from
  // `min_total` outcomes on, so the first few outcomes cannot trip it by chance.
  bool exceeded(uint64_t bad, uint64_t total, uint64_t min_total) const {
    if (!set) return false;
    if (!is_rate) return static_cast<double>(bad) > value;
    return total >= min_total && total > 0 &&
           static_cast<double>(bad) > value * static_cast<double>(total);
  }
};

// Everything synth, render and tasks need, and what dedup and decontam share with them (the
// endpoints, the API key, --quiet, --log-level; their own flags are in DedupOptions and
// DecontamOptions). Filled by cli.cpp from flags, then the environment, then defaults (in that
// order of precedence). Plain data: no behaviour beyond defaults.
struct Options {
  std::string command;  // "synth", "render", "dedup", "decontam" or "tasks"

  // Input and selection.
  // -i as given, in order: JSONL files (.gz/.zst read transparently) and directories of record
  // shards (expand_inputs); "-" is stdin, and then the only input.
  std::vector<std::string> inputs;
  std::vector<std::string> fields;   // persona fields, first present wins
  uint64_t limit = 0;                // at most this many personas; 0 = all
  std::vector<std::string> match;    // --match REGEX: keep personas matching one of these
  std::vector<std::string> exclude;  // --exclude REGEX: drop personas matching any of these
  std::vector<std::string> where;    // --where FIELD=VALUE or FIELD!=VALUE: all must hold
  uint64_t sample = 0;               // --sample N: a uniform sample of N (0 = all)
  std::string part;                  // --part I/N: the I-th of N disjoint slices ("" = all)

  // Prompting.
  std::string task;  // a built-in task; empty with --template
  std::string method = "zero-shot";
  std::string prompts_dir;    // override the embedded templates
  std::string template_file;  // a custom task from one template file
  std::string world_file;     // the npc world
  uint64_t seed = 0;
  std::vector<std::string> relations;  // text-to-persona: read, write, like, dislike
  // text-to-persona: longer texts are cut. About 1,000 tokens of English: enough to tell who
  // would read or write the text, and it bounds what each request costs.
  size_t max_input_bytes = 4000;
  int hops = 1;  // persona-to-persona: expansion rounds
  int shots = 3;
  // Independent requests per input line (--samples K); 0 = the task's default (3 for solve,
  // else 1). Sample k is sent with "seed" + k when --extra-body sets a seed.
  int samples = 0;
  // solve: a line is kept when at least this many of its samples' answers agree; 0 = the
  // default (2 for solve).
  int agree = 0;
  int turns = 2;                // converse: user turns per conversation
  bool keep_reasoning = false;  // --format chat: keep the thinking in the assistant message
  // Structured outputs: auto | json_schema | json_object | off. auto sends the task's JSON
  // schema as response_format for the JSON tasks, nothing for the text tasks.
  std::string structured = "auto";
  bool structured_given = false;  // --structured came from the command line or --config
  std::string schema_file;        // --schema FILE: the JSON schema of a custom --template's replies
  // judge: a built-in rubric's name or a rubric file ("" = chosen from each record's task).
  std::string rubric;
  // judge: records whose overall score is below this go to below-threshold.jsonl.
  std::optional<double> min_score;

  // The endpoint.
  std::string model;
  // --base-url (repeatable; commas separate several), else $OPENAI_BASE_URL (the same), else
  // the OpenAI API. One URL a vector entry; requests are balanced over them. Not part of a run's
  // recorded configuration: a resume may use other endpoints.
  std::vector<std::string> base_urls;
  std::string api_key_file;  // else $OPENAI_API_KEY
  int concurrency = 64;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> max_tokens;
  std::string system;      // --system TEXT: a system message in every request
  std::string extra_body;  // --extra-body JSON: more fields for every request body
  // Dollars per million prompt / completion tokens, to show the cost; unset = not shown.
  std::optional<double> price_in;
  std::optional<double> price_out;
  double timeout_seconds = 120;
  int max_retries = 5;
  // Retries of a reply cut off by --max-tokens (finish_reason "length"): the same prompt with the
  // same limit is usually cut off again, and each retry is billed.
  int length_retries = 1;
  // When every recent request failed to connect, how long to probe the endpoints before failing
  // anything: an outage must not burn through the input.
  double outage_wait_seconds = 300;
  // A reply larger than this is a failure: memory stays bounded by -j x this.
  uint64_t max_reply_bytes = 8 << 20;
  double rpm = 0;          // requests per minute; 0 = unlimited
  double tpm = 0;          // tokens per minute; 0 = unlimited
  Threshold max_failures;  // stop early when requests fail this much
  Threshold max_rejects;   // fail the run when input lines are rejected this much
  // Stop early (exit 4, resumable) when the billed cost of this output reaches this many dollars.
  std::optional<double> max_cost;

  // Output.
  std::string output;             // shard directory, or "-" for stdout
  std::string format = "record";  // record | personahub | chat
  uint64_t shard_size = 10000;
  std::string summary_file;
  bool restart = false;       // discard an existing run in the output directory
  bool retry_failed = false;  // re-request only the records in failures.jsonl
  // Read, select and render every request, send none, print what the run would cost; -o is not
  // written.
  bool dry_run = false;
  std::string license;  // --license: the dataset card's license ("" = unset)

  // Behaviour.
  double grace_seconds = 30;      // after SIGINT/SIGTERM, for requests in flight
  double checkpoint_seconds = 2;  // how often progress is made durable
  double progress_seconds = 5;    // plain progress line interval (non-TTY)
  bool quiet = false;             // no progress; the summary only on failure
  std::string log_level = "warn";
};

}  // namespace personagen
