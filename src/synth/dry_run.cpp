#include "synth/dry_run.h"

#include "synth/request_walk.h"

namespace personagen {

DryRun dry_run(const SynthPlan& plan, const Options& options) {
  DryRun d;
  RequestBuilder builder(plan);
  WalkCounts counts = walk_requests(
      plan, options.limit, builder, [](uint64_t, size_t) { return true; },
      [&](const InputRecord&, size_t) { d.prompt_bytes += builder.body().size(); });
  d.selected = counts.selected;
  d.rejected = counts.rejected;
  d.rendered = counts.requests;
  d.requests = counts.requests * plan.steps();
  d.prompt_tokens = estimate_body_tokens(d.prompt_bytes);
  if (plan.sampling.max_tokens)
    d.completion_bound = d.requests * static_cast<uint64_t>(*plan.sampling.max_tokens);
  d.cost_min = cost_of(d.prompt_tokens, 0, options);
  if (d.cost_min && d.completion_bound)
    d.cost_max = cost_of(d.prompt_tokens, *d.completion_bound, options);
  return d;
}

}  // namespace personagen
