#pragma once

// What a run would send and cost, found without sending anything: synth --dry-run and
// batch export --dry-run.

#include <cstdint>
#include <optional>

#include "personagen/options.h"
#include "synth/synth_plan.h"
#include "util/cost.h"

namespace personagen {

struct DryRun {
  uint64_t selected = 0;  // personas (lines) selected
  uint64_t rejected = 0;  // lines synth would write to rejects.jsonl
  uint64_t requests = 0;  // requests the run would send, without retries
  // Of those, the requests whose prompt is known before any reply: all of them, except that a
  // conversation's later turns depend on the replies before them.
  uint64_t rendered = 0;
  uint64_t prompt_bytes = 0;   // the rendered requests' bodies
  uint64_t prompt_tokens = 0;  // estimate_body_tokens of those bodies
  // --max-tokens x requests: what the replies may cost at most; none without --max-tokens.
  std::optional<uint64_t> completion_bound;
  // With a price: the rendered prompts alone (every reply empty), and everything at the bound.
  std::optional<double> cost_min;
  std::optional<double> cost_max;  // none without --max-tokens: unbounded
};

// Reads and selects the input as `synth` would (rejects, --match, --where, --part, --sample,
// --limit) and renders every request it would send first, without sending any. For
// persona-to-persona, the first hop: the others read the personas it makes.
DryRun dry_run(const SynthPlan& plan, const Options& options);

}  // namespace personagen
