// SynthRun: how an accepted request becomes the records of its line, and how the training tasks
// that need more than one reply (converse, solve) gather theirs.
#include <cstdlib>

#include "synth/answer.h"
#include "synth/judge.h"
#include "synth/synth_run.h"
#include "synth/tasks.h"
#include "synth/votes.h"
#include "util/text_util.h"

namespace personagen {

// The input's own id; for persona records (from text-to-persona or persona-to-persona), their
// custom_id.
std::string_view SynthRun::persona_id(const InputRecord& record) {
  if (!record.id.empty()) return record.id;
  for (const auto& [name, value] : record.fields)
    if (name == "custom_id") return value;
  return {};
}

void SynthRun::add_record(Pending& p, const Request& request, const Judged& judged, int attempts) {
  OutputRecord r;
  r.custom_id = request.custom_id;
  if (plan_.role == TaskRole::training) {
    // respond: the text read is the user's prompt; the persona is the record's.
    SourceFields source = source_fields(p.record);
    r.persona = source.persona;
    r.persona_id = source.persona_id;
    r.source_id = source.source_id;
    r.training = true;
    r.prompt = p.record.persona;
    r.system = plan_.extras.system;
  } else {
    r.persona = p.record.persona;
    r.persona_id = persona_id(p.record);
    r.prompt = request.prompt;
  }
  r.reasoning = judged.completion.reasoning;
  r.keep_reasoning = plan_.keep_reasoning;
  r.provenance = provenance_for(judged.completion);
  r.description = plan_.description;
  r.output = judged.completion.content;
  r.parsed = judged.parsed.parsed;
  r.parsed_is_tool = plan_.kind == OutputKind::tool;
  r.finish_reason = judged.completion.finish_reason;
  r.usage = judged.completion.usage;
  r.attempts = attempts;
  format_record(plan_.format, r, json_);
  p.records.push_back(json_);
}

// text-to-persona and persona-to-persona write one persona record per persona created, each a
// valid input for synth, render and dedup.
void SynthRun::add_persona_records(Pending& p, size_t index, const Judged& judged, int attempts) {
  const Request& request = p.requests[index];
  const std::vector<std::string>& personas = judged.parsed.personas;
  std::string_view parent_id = p.record.id;
  uint64_t parent_hop = 0;
  for (const auto& [name, value] : p.record.fields) {
    if (name == "custom_id") parent_id = value;
    if (name == "hop") parent_hop = std::strtoull(value.c_str(), nullptr, 10);
  }
  for (size_t i = 0; i < personas.size(); ++i) {
    PersonaRecord r;
    std::string custom_id = request.custom_id + "-" + std::to_string(i);
    r.persona = personas[i];
    r.source = parent_id;
    r.relation = plan_.kind == OutputKind::persona
                     ? std::string_view(plan_.relations[index / plan_.samples])
                     : "related";
    r.hop = plan_.kind == OutputKind::persona ? 0 : parent_hop + 1;
    r.custom_id = custom_id;
    r.input = p.record.persona;
    r.provenance = provenance_for(judged.completion);
    r.finish_reason = judged.completion.finish_reason;
    r.usage = judged.completion.usage;
    r.attempts = attempts;
    format_persona_record(r, json_);
    p.records.push_back(json_);
  }
}

// judge writes the judged record's provenance with its scores; one scoring below --min-score
// goes to below-threshold.jsonl, so the shards hold only what passed.
void SynthRun::add_judgment(Pending& p, const Request& request, const Judged& judged,
                            int attempts) {
  SourceFields source = source_fields(p.record);
  JudgeRecord r;
  r.custom_id = request.custom_id;
  r.source = {source.persona, source.persona_id, source.source_id};
  r.provenance = provenance_for(judged.completion);
  r.rubric = plan_.rubrics.for_record(p.record).name;
  r.text = p.record.persona;
  r.judgment = judged.parsed.parsed;
  r.reasoning = judged.completion.reasoning;
  r.finish_reason = judged.completion.finish_reason;
  r.usage = judged.completion.usage;
  r.attempts = attempts;
  format_judge_record(r, json_);
  bool below = plan_.min_score && judged_overall(judged.parsed.parsed) < *plan_.min_score;
  (below ? p.below_threshold : p.records).push_back(json_);
}

}  // namespace personagen
