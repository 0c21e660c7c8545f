#include "app/cli_flags.h"

#include <cmath>
#include <cstdlib>

#include "synth/tasks.h"

namespace personagen {

Threshold parse_threshold(const std::string& flag, const std::string& text) {
  Threshold t;
  t.set = true;
  std::string number = text;
  if (!number.empty() && number.back() == '%') {
    t.is_rate = true;
    number.pop_back();
  }
  char* end = nullptr;
  t.value = std::strtod(number.c_str(), &end);
  if (number.empty() || *end != '\0' || !std::isfinite(t.value) || t.value < 0 ||
      (t.is_rate && t.value > 100))
    throw CLI::ValidationError(flag, "expected a count (100) or a percentage (5%)");
  if (t.is_rate) t.value /= 100;
  return t;
}

CLI::Validator in_range(NumberRange r) {
  return CLI::Validator([r](std::string& text) { return check_number(text, r); }, describe(r));
}

// Flags shared by synth and render: what to read and how to build each request.
void add_request_flags(CLI::App& app, Options& o, bool input_required) {
  std::string task_names;
  for (const TaskInfo* task : all_tasks())
    task_names += (task_names.empty() ? "" : " | ") + std::string(task->name);
  app.add_option("-i,--input", o.inputs,
                 "Personas or records as JSONL; .gz and .zst are read transparently; - is stdin. "
                 "Repeat to read several files as one input; a directory is its record shards in "
                 "name order (what synth -o wrote)")
      ->required(input_required);
  app.add_option("-t,--task", o.task, "Task: " + task_names);
  app.add_option("-m,--method", o.method,
                 "Prompting method: zero-shot | few-shot | persona-few-shot")
      ->capture_default_str();
  app.add_option("--field", o.fields,
                 "Persona field; repeat for fallbacks (default: persona, then \"input persona\")");
  app.add_option("--limit", o.limit, "Use at most N personas (0 = all)")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<uint64_t>(0)));
  app.add_option("--seed", o.seed, "Seed for demonstration sampling and --sample")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<uint64_t>(0)));
  app.add_option("--shots", o.shots, "Demonstrations per request for the few-shot methods")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<int>(0)));
  app.add_option("--model", o.model, "Model name sent as \"model\" (default: $OPENAI_MODEL)");
  app.add_option_function<double>(
         "--temperature", [&o](const double& v) { o.temperature = v; },
         "Sampling temperature (default: the server's)")
      ->transform(in_range({.max = 2, .show_max = true}));
  app.add_option_function<double>(
         "--top-p", [&o](const double& v) { o.top_p = v; },
         "Nucleus sampling top_p (default: the server's)")
      ->transform(in_range({.max = 1, .above_min = true, .show_max = true}));
  app.add_option_function<int64_t>(
         "--max-tokens", [&o](const int64_t& v) { o.max_tokens = v; },
         "Maximum completion tokens (default: the server's)")
      ->transform(in_range(whole_at_least<int64_t>(1)));
  app.add_option("--system", o.system, "A system message sent before every prompt");
  app.add_option("--extra-body", o.extra_body,
                 "A JSON object of more request fields, e.g. "
                 "'{\"seed\":7,\"chat_template_kwargs\":{\"enable_thinking\":false}}'");
  app.add_option("--match", o.match,
                 "Keep personas matching this POSIX extended regex (case-insensitive; repeatable)");
  app.add_option("--exclude", o.exclude,
                 "Drop personas matching this regex (case-insensitive; repeatable)");
  app.add_option("--where", o.where,
                 "Keep records whose FIELD equals VALUE: FIELD=VALUE or FIELD!=VALUE (repeatable)");
  app.add_option("--sample", o.sample,
                 "A uniform random sample of N personas (reservoir sampling, seeded by --seed)")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<uint64_t>(0)));
  app.add_option("--part", o.part,
                 "Only the I-th of N disjoint slices of the personas, by a hash of the text "
                 "(I/N, 0 <= I < N), to split a job over N machines");
  app.add_option(
         "--relation", o.relations,
         "text-to-persona: read, write, like or dislike; several with commas (default: read)")
      ->delimiter(',');
  app.add_option("--max-input-bytes", o.max_input_bytes,
                 "text-to-persona: cut longer texts to this many bytes before prompting")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<size_t>(1)));
  app.add_option("--hops", o.hops,
                 "persona-to-persona: expansion rounds (1-6); hop h is written to "
                 "<output>/hop-<h>/ and feeds hop h+1")
      ->capture_default_str()
      ->transform(in_range({.whole = true, .min = 1, .max = 6, .show_max = true}));
  app.add_option("--samples", o.samples,
                 "Independent requests per input line, each its own record (default: 3 for "
                 "solve, else 1); with a \"seed\" in --extra-body, sample k sends seed + k")
      ->transform(in_range(whole_at_least<int>(1)));
  app.add_option("--agree", o.agree,
                 "solve: keep a problem when at least M of its samples' answers agree "
                 "(default: 2); the others go to unverified.jsonl")
      ->transform(in_range(whole_at_least<int>(1)));
  app.add_option("--turns", o.turns, "converse: user turns per conversation")
      ->capture_default_str()
      ->transform(in_range({.whole = true, .min = 1, .max = 50, .show_max = true}));
  app.add_option("--rubric", o.rubric,
                 "judge: a built-in rubric (math | reasoning | instruction | knowledge | npc | "
                 "tool | generic) or a file whose text is the rubric (default: chosen from each "
                 "record's \"task\" or \"description\")");
  app.add_option_function<double>(
         "--min-score", [&o](const double& v) { o.min_score = v; },
         "judge: records whose overall score (the mean of the three, 1-10) is below X go to "
         "below-threshold.jsonl instead of the shards")
      ->transform(in_range({.min = 1, .max = 10, .show_max = true}));
  app.add_flag("--keep-reasoning", o.keep_reasoning,
               "--format chat: keep a reasoning model's thinking in the assistant message, as "
               "<think>...</think> before the answer");
  app.add_option(
      "--prompts", o.prompts_dir,
      "Directory of templates replacing the embedded ones (layout: <task>/<method>.txt)");
  app.add_option("--template", o.template_file,
                 "A custom task from one template file; its {{placeholders}} are input fields");
  app.add_option("--world", o.world_file,
                 "Game world description for the npc task (default: built in)");
  app.add_option("--structured", o.structured,
                 "Structured outputs: auto (the task's JSON schema as response_format for npc, "
                 "tool, persona-to-persona and a --template with --schema; nothing for text "
                 "tasks) | json_schema | json_object | off")
      ->capture_default_str();
  app.add_option("--schema", o.schema_file,
                 "A JSON schema file for a custom --template's replies, sent as response_format");
}

void add_endpoint_flags(CLI::App& app, Options& o) {
  app.add_option("--base-url", o.base_urls,
                 std::string("OpenAI-compatible API base URL; repeat it or separate with commas "
                             "to balance over several (default: $OPENAI_BASE_URL, else ") +
                     kDefaultBaseUrl + ")");
  app.add_option("--api-key-file", o.api_key_file,
                 "File holding the API key (default: $OPENAI_API_KEY); the key is never logged");
}

void add_price_flags(CLI::App& app, Options& o) {
  app.add_option_function<double>(
         "--price-in", [&o](const double& v) { o.price_in = v; },
         "Dollars per million prompt tokens, to show the cost as the run goes")
      ->transform(in_range({}));
  app.add_option_function<double>(
         "--price-out", [&o](const double& v) { o.price_out = v; },
         "Dollars per million completion tokens, to show the cost as the run goes")
      ->transform(in_range({}));
}

void add_synth_flags(CLI::App& app, Options& o, bool output_required) {
  if (!output_required) app.option_defaults()->group("Synth's flags (accepted and ignored)");
  add_price_flags(app, o);
  app.add_option("-o,--output", o.output, "Shard directory; - writes records to stdout")
      ->required(output_required);
  app.add_flag("--dry-run", o.dry_run,
               "Read, select and render every request, send none, and print the personas, "
               "requests, tokens and cost range; nothing is written to --output");
  app.add_option_function<double>(
         "--max-cost", [&o](const double& v) { o.max_cost = v; },
         "Stop early (exit 4, resumable with a higher limit) once the billed cost of the output "
         "directory reaches this many dollars; needs --price-in/--price-out")
      ->transform(in_range({.above_min = true}));
  add_endpoint_flags(app, o);
  app.add_option("-j,--concurrency", o.concurrency, "Requests in flight")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<int>(1)));
  app.add_option("--timeout", o.timeout_seconds, "Per-request timeout, seconds")
      ->capture_default_str()
      ->transform(in_range({.above_min = true}));
  app.add_option("--max-retries", o.max_retries, "Retries per request before it fails")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<int>(0)));
  app.add_option("--length-retries", o.length_retries,
                 "Retries of a reply cut off by --max-tokens (finish_reason length)")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<int>(0)));
  app.add_option("--outage-wait", o.outage_wait_seconds,
                 "When no endpoint can be reached, seconds to probe before failing requests")
      ->capture_default_str()
      ->transform(in_range({}));
  app.add_option("--max-reply-bytes", o.max_reply_bytes,
                 "A reply larger than this many bytes is a failure")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<uint64_t>(1)));
  app.add_option("--rpm", o.rpm, "Requests per minute, at most (0 = unlimited)")
      ->capture_default_str()
      ->transform(in_range({}));
  app.add_option("--tpm", o.tpm,
                 "Tokens per minute, at most, estimated before sending (0 = unlimited)")
      ->capture_default_str()
      ->transform(in_range({}));
  app.add_option_function<std::string>(
      "--max-failures",
      [&o](const std::string& v) { o.max_failures = parse_threshold("--max-failures", v); },
      "Stop early (exit 4, resumable) when more requests than this fail: a count or a rate like 5% "
      "(default: no limit)");
  app.add_option_function<std::string>(
      "--max-rejects",
      [&o](const std::string& v) { o.max_rejects = parse_threshold("--max-rejects", v); },
      "Fail the run (exit 4) when more input lines than this are rejected: a count or a rate "
      "(default: no limit)");
  app.add_flag("--retry-failed", o.retry_failed,
               "Re-request only the records in failures.jsonl of a finished run");
  app.add_option("--format", o.format, "Record shape: record | personahub | chat")
      ->capture_default_str();
  app.add_option("--shard-size", o.shard_size, "Records per shard")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<uint64_t>(1)));
  app.add_option("--summary", o.summary_file, "Write a JSON summary of the run to FILE");
  app.add_option("--license", o.license,
                 "The license in the dataset card (README.md) of the output directory, e.g. "
                 "cc-by-4.0 (default: none stated)");
  app.add_flag("--restart", o.restart, "Discard the run already in --output and start over");
  app.add_option("--grace", o.grace_seconds,
                 "After SIGINT/SIGTERM, seconds to let requests in flight finish")
      ->capture_default_str()
      ->transform(in_range({}));
  app.add_option("--checkpoint-interval", o.checkpoint_seconds, "Seconds between checkpoints")
      ->capture_default_str()
      ->transform(in_range({}));
  app.add_option("--progress-interval", o.progress_seconds,
                 "Seconds between progress lines when stderr is not a terminal")
      ->capture_default_str()
      ->transform(in_range({}));
}

}  // namespace personagen
