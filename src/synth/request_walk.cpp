#include "synth/request_walk.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "input/record_reader.h"
#include "input/selection.h"
#include "util/text_util.h"

namespace personagen {

std::string training_reject(const SynthPlan& plan, const InputRecord& record) {
  if (plan.role != TaskRole::training) return {};
  if (trim(record.persona).empty())
    return "the text to " + plan.task + " is empty (read from \"" +
           plan.reader.persona_fields.front() + "\" or the fields after it)";
  if (plan.converse && source_fields(record).persona.empty())
    return "no persona to play the user (expected a \"persona\" or \"input persona\" field)";
  return {};
}

bool retry_wants(const FailedRequests& failed, OutputKind kind, uint64_t line, size_t unit) {
  const std::vector<RequestId>& requests = failed.requests;
  auto it = std::lower_bound(requests.begin(), requests.end(), RequestId{line, 0});
  if (it == requests.end() || it->line != line) return false;
  if (kind == OutputKind::solution && !failed.kept_at(line)) return true;
  return std::binary_search(requests.begin(), requests.end(), RequestId{line, unit}) ||
         std::binary_search(requests.begin(), requests.end(), RequestId{line, kEveryRequest});
}

WalkCounts walk_requests(const SynthPlan& plan, uint64_t limit, RequestBuilder& builder,
                         const std::function<bool(uint64_t line, size_t unit)>& wanted,
                         const std::function<void(const InputRecord&, size_t unit)>& request,
                         const std::function<void(const InputRecord&)>& reject) {
  Selection selection(plan.selection);
  RecordReader reader(plan.input_files, plan.reader);
  std::optional<std::vector<InputRecord>> sampled;
  if (selection.sample() > 0) sampled = read_sample(reader, selection);
  size_t sample_next = 0;
  auto read = [&]() -> std::optional<InputRecord> {
    if (!sampled) return reader.next();
    if (sample_next == sampled->size()) return std::nullopt;
    return std::move((*sampled)[sample_next++]);
  };

  WalkCounts counts;
  while (!limit || counts.selected < limit) {
    std::optional<InputRecord> record = read();
    if (!record) break;
    if (record->ok()) record->reject = training_reject(plan, *record);
    if (!record->ok()) {
      ++counts.rejected;
      if (reject) reject(*record);
      continue;
    }
    if (!selection.selected(*record)) continue;
    ++counts.selected;
    for (size_t unit = 0; unit < plan.units(); ++unit) {
      if (!wanted(record->line, unit)) continue;
      builder.build(*record, unit);
      request(*record, unit);
      ++counts.requests;
    }
  }
  return counts;
}

}  // namespace personagen
