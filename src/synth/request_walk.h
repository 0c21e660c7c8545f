#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "personagen/input_record.h"
#include "personagen/request_id.h"
#include "store/run_dir.h"
#include "synth/synth_plan.h"

namespace personagen {

// Why a training task cannot use this line (no text, no persona to play the user), or "".
std::string training_reject(const SynthPlan& plan, const InputRecord& record);

// Whether a --retry-failed pass (or a batch's next round) sends request `unit` of `line` again,
// given the failed requests. A solve line's vote needs all its samples: when its failure keeps
// the samples that succeeded, only the failed ones are sent (the pass restores the others);
// without them (a failures file written before they were kept) every sample is sent again.
bool retry_wants(const FailedRequests& failed, OutputKind kind, uint64_t line, size_t unit);

// What a walk saw of the input.
struct WalkCounts {
  uint64_t selected = 0;  // lines selected, as --limit counts them
  uint64_t rejected = 0;  // lines synth would write to rejects.jsonl
  uint64_t requests = 0;  // request units handed over
};

// Reads the input exactly as a synth run selects it (rejects, --match/--where/--part, --sample,
// --limit) and builds, for each selected line, the request units that `wanted(line, unit)`
// accepts, in order, handing each to `request` with `builder` filled in (prompt, body,
// custom_id): what synth would send, byte for byte. `reject`, if set, sees each line synth would
// reject. Used by render and batch export, so that neither can drift from synth.
WalkCounts walk_requests(const SynthPlan& plan, uint64_t limit, RequestBuilder& builder,
                         const std::function<bool(uint64_t line, size_t unit)>& wanted,
                         const std::function<void(const InputRecord&, size_t unit)>& request,
                         const std::function<void(const InputRecord&)>& reject = {});

}  // namespace personagen
