#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "input/record_reader.h"
#include "input/selection.h"
#include "net/openai_client.h"
#include "personagen/options.h"
#include "store/manifest.h"
#include "store/output_record.h"
#include "synth/judge.h"
#include "synth/prompt_template.h"
#include "synth/tasks.h"

namespace personagen {

// What a synth or render run will do, resolved and validated from Options before anything is
// read or sent. Both commands build requests from the same plan, so `render` shows exactly
// what `synth` would send.
struct SynthPlan {
  std::string task;  // built-in task name, or the custom template's name
  OutputKind kind = OutputKind::text;
  TaskRole role = TaskRole::synthesis;
  bool converse = false;    // the task is converse: each request unit is a conversation
  std::string description;  // the Persona Hub "description"
  Method method = Method::zero_shot;
  OutputFormat format = OutputFormat::record;
  TaskPrompts prompts;
  std::string template_id;  // "<task>/<method>"
  std::string model;
  SamplingParams sampling;
  RequestExtras extras;  // --system, --extra-body, and --structured's response_format
  uint64_t seed = 0;
  size_t shots = 0;  // demonstrations per request (0 for zero-shot)
  // Requests per input record: one per relation for text-to-persona, else one with no relation.
  std::vector<std::string> relations{""};
  size_t max_input_bytes = 0;  // cut longer inputs before prompting (0 = never)
  // --samples: independent request units per relation; unit u of a line is relation u / samples,
  // sample u % samples.
  size_t samples = 1;
  size_t agree = 0;  // solve: answers that must agree (M of --samples K)
  size_t turns = 0;  // converse: user turns
  // The integer "seed" of --extra-body, if any: sample k sends seed + k.
  std::optional<int64_t> body_seed;
  bool keep_reasoning = false;
  bool creates_personas = false;
  // judge: the rubrics, and --min-score (records scoring below go to below-threshold.jsonl).
  JudgeRubrics rubrics;
  std::optional<double> min_score;
  SelectionOptions selection;  // --match, --exclude, --where, --sample
  ReaderOptions reader;
  RunConfig config;  // what must match when a run resumes
  // The input files: Options::inputs with each directory expanded into its record shards, once.
  std::vector<std::string> input_files;

  const Template& templ() const { return prompts.for_method(method); }
  // Request units per input line: what RequestId::index counts.
  size_t units() const { return relations.size() * samples; }
  // Requests one after another in a unit: 2 * turns - 1 for converse (assistant and persona-as-
  // user turns), else 1.
  size_t steps() const { return converse ? 2 * turns - 1 : 1; }
};

// Resolves the task, loads and checks the templates, and fixes the run configuration.
// Throws a usage Error (exit code 2) naming the flag or file that is wrong.
SynthPlan make_plan(const Options& options);

// --sample: reads the whole input once and returns a uniform sample of the selected records,
// merged in line order with every reject, so both flow through the usual path.
std::vector<InputRecord> read_sample(RecordReader& reader, const Selection& selection);

// Builds the request for one persona: its demonstrations, prompt, body and custom_id.
// The custom_id is a hash of everything that shapes the request, so any change of persona,
// task, method, template, demonstrations, model, sampling, extras or response_format gives a
// new key.
class RequestBuilder {
 public:
  explicit RequestBuilder(const SynthPlan& plan);

  // Fills prompt(), body() and custom_id() for request unit `unit` (see SynthPlan::units) of this
  // record, reusing buffers across calls. For converse this is the unit's first request.
  void build(const InputRecord& record, size_t unit = 0);

  // converse: the body of step `step` (1 .. steps() - 1) of a conversation whose messages so far
  // are `messages` (user first). Odd steps ask the persona for the next user message; even ones
  // ask the assistant to answer. Sets body() (and prompt() for the odd steps).
  void build_turn(std::string_view persona, std::span<const ChatMessage> messages, size_t unit,
                  size_t step);

  const std::string& prompt() const { return prompt_; }
  const std::string& body() const { return body_; }
  const std::string& custom_id() const { return custom_id_; }
  // The demonstrations chosen by the last build().
  const std::vector<const Demonstration*>& shots() const { return shots_; }

 private:
  // The plan's extras, with "seed" + sample when --extra-body sets a seed.
  const RequestExtras& extras_for(size_t sample);

  const SynthPlan& plan_;
  std::string sampling_key_;
  std::vector<uint64_t> demo_hashes_;
  std::vector<const Demonstration*> shots_;
  std::string prompt_;
  std::string body_;
  std::string custom_id_;
  std::string transcript_;
  std::vector<std::pair<std::string, std::string>> judge_fields_;  // judge: {{text}}, {{rubric}}
  RequestExtras seeded_;  // the extras with "seed" + sample, for samples after the first
};

// The text a training task reads and the provenance it carries from a record that personagen
// (or anyone) wrote: "persona" (or "input persona"), "persona_id", and the record's "custom_id"
// (else its "id") as source_id. Empty views when absent.
struct SourceFields {
  std::string_view persona;
  std::string_view persona_id;
  std::string_view source_id;
};
SourceFields source_fields(const InputRecord& record);

}  // namespace personagen
