// `personagen render` and `--dry-run`: what synth would send, found without sending anything.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "app/terminal.h"
#include "input/input_files.h"
#include "personagen/commands.h"
#include "store/atomic_file.h"
#include "synth/dry_run.h"
#include "synth/request_walk.h"
#include "synth/run_synth.h"
#include "synth/synth_plan.h"
#include "util/cost.h"
#include "util/text_util.h"

namespace personagen {

namespace {

// The dry run as lines for a person.
std::string dry_run_text(const DryRun& d, const SynthPlan& plan, const Options& options) {
  std::string out = "dry run: nothing was sent and nothing was written\n";
  out += "input:       " + join_inputs(options.inputs) + "\n";
  out += "personas:    " + std::to_string(d.selected) + " selected, " + std::to_string(d.rejected) +
         " rejected\n";
  out += "requests:    " + std::to_string(d.requests) + " (" + plan.task + ", " +
         std::to_string(plan.units()) + " per persona";
  if (plan.steps() > 1)
    out += " x " + std::to_string(plan.steps()) + " requests for " + std::to_string(plan.turns) +
           " turns";
  out += "; retries not counted)\n";
  out += "prompt:      ~" + std::to_string(d.prompt_tokens) + " tokens, estimated at 4 bytes a " +
         "token over the " + std::to_string(d.prompt_bytes) + " bytes of the rendered requests";
  if (d.rendered < d.requests)
    out += " (the first turn of each conversation only: later turns depend on the replies)";
  out += "\n";
  if (d.completion_bound)
    out += "completion:  at most " + std::to_string(*d.completion_bound) +
           " tokens (--max-tokens " + std::to_string(*plan.sampling.max_tokens) + " x " +
           std::to_string(d.requests) + " requests)\n";
  else
    out += "completion:  unknown (no --max-tokens: the server's limit applies)\n";
  if (d.cost_min) {
    out += "cost:        " + dollars(*d.cost_min) + " (the prompts) to " +
           (d.cost_max ? dollars(*d.cost_max) + " (every reply at --max-tokens)"
                       : std::string("unbounded (no --max-tokens)")) +
           "\n";
  } else {
    out += "cost:        give --price-in and --price-out (dollars per million tokens)\n";
  }
  if (options.max_cost && d.cost_min) {
    if (*d.cost_min >= *options.max_cost)
      out += "budget:      --max-cost " + dollars(*options.max_cost) +
             " will stop this run before it ends\n";
    else if (!d.cost_max || *d.cost_max > *options.max_cost)
      out += "budget:      --max-cost " + dollars(*options.max_cost) + " may stop this run\n";
    else
      out += "budget:      --max-cost " + dollars(*options.max_cost) + " cannot be reached\n";
  }
  if (options.hops > 1)
    out += "hops:        the first of " + std::to_string(options.hops) +
           " only; the others read the personas it makes\n";
  return out;
}

// The same for --summary: one JSON object.
std::string dry_run_json(const DryRun& d, const SynthPlan& plan) {
  nlohmann::json j;
  j["status"] = "ok";
  j["exit_code"] = 0;
  j["dry_run"] = true;
  j["task"] = plan.task;
  j["selected"] = d.selected;
  j["rejected"] = d.rejected;
  j["requests"] = d.requests;
  j["rendered_requests"] = d.rendered;
  j["prompt_bytes"] = d.prompt_bytes;
  j["prompt_tokens"] = d.prompt_tokens;
  j["prompt_tokens_estimate"] = "request body bytes / 4";
  j["completion_tokens_max"] =
      d.completion_bound ? nlohmann::json(*d.completion_bound) : nlohmann::json();
  if (d.cost_min) j["cost_min"] = *d.cost_min;
  if (d.cost_min) j["cost_max"] = d.cost_max ? nlohmann::json(*d.cost_max) : nlohmann::json();
  return j.dump() + "\n";
}

}  // namespace

ExitCode run_dry_run(const Options& options) {
  SynthPlan plan = plan_synth(options);
  DryRun d = dry_run(plan, options);
  write_stdout(dry_run_text(d, plan, options));
  if (!options.summary_file.empty()) write_file_atomic(options.summary_file, dry_run_json(d, plan));
  return ExitCode::ok;
}

ExitCode run_render(const Options& options) {
  SynthPlan plan = make_plan(options);
  RequestBuilder builder(plan);
  std::string out;
  WalkCounts counts = walk_requests(
      plan, options.limit, builder, [](uint64_t, size_t) { return true; },
      [&](const InputRecord&, size_t) {
        out += builder.body();
        out += '\n';
        // Written in pieces of about 64 KiB: few writes, and little held however long the input.
        if (out.size() >= (1u << 16)) {
          std::fwrite(out.data(), 1, out.size(), stdout);
          out.clear();
        }
      },
      [&](const InputRecord& record) {
        spdlog::warn("{}:{}: {}", plan.input_files[record.file], record.file_line, record.reject);
      });
  write_stdout(out);
  if (counts.selected == 0 && counts.rejected == 0)
    spdlog::warn("{}: the input has no records", join_inputs(options.inputs));
  return ExitCode::ok;
}

}  // namespace personagen
