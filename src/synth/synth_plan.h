#pragma once

#include <string>
#include <vector>

#include "input/record_reader.h"
#include "input/selection.h"
#include "net/openai_client.h"
#include "personagen/options.h"
#include "store/manifest.h"
#include "store/output_record.h"
#include "synth/prompt_template.h"
#include "synth/tasks.h"

namespace personagen {

// What a synth or render run will do, resolved and validated from Options before anything is
// read or sent. Both commands build requests from the same plan, so `render` shows exactly
// what `synth` would send.
struct SynthPlan {
  std::string task;  // built-in task name, or the custom template's name
  OutputKind kind = OutputKind::text;
  std::string description;  // the Persona Hub "description"
  Method method = Method::zero_shot;
  OutputFormat format = OutputFormat::record;
  TaskPrompts prompts;
  std::string template_id;  // "<task>/<method>"
  std::string model;
  SamplingParams sampling;
  RequestExtras extras;  // --system, --extra-body
  uint64_t seed = 0;
  size_t shots = 0;  // demonstrations per request (0 for zero-shot)
  // Requests per input record: one per relation for text-to-persona, else one with no relation.
  std::vector<std::string> relations{""};
  size_t max_input_bytes = 0;  // cut longer inputs before prompting (0 = never)
  bool creates_personas = false;
  SelectionOptions selection;  // --match, --exclude, --where, --sample
  ReaderOptions reader;
  RunConfig config;  // what must match when a run resumes
  // The input files: Options::inputs with each directory expanded into its record shards, once.
  std::vector<std::string> input_files;

  const Template& templ() const { return prompts.for_method(method); }
};

// Resolves the task, loads and checks the templates, and fixes the run configuration.
// Throws a usage Error (exit code 2) naming the flag or file that is wrong.
SynthPlan make_plan(const Options& options);

// --sample: reads the whole input once and returns a uniform sample of the selected records,
// merged in line order with every reject, so both flow through the usual path.
std::vector<InputRecord> read_sample(RecordReader& reader, const Selection& selection);

// Builds the request for one persona: its demonstrations, prompt, body and custom_id.
// The custom_id is a hash of everything that shapes the request, so any change of persona,
// task, method, template, demonstrations, model or sampling gives a new key.
class RequestBuilder {
 public:
  explicit RequestBuilder(const SynthPlan& plan);

  // Fills prompt(), body() and custom_id() for request `relation_index` (into plan.relations) of
  // this record, reusing buffers across calls.
  void build(const InputRecord& record, size_t relation_index = 0);

  const std::string& prompt() const { return prompt_; }
  const std::string& body() const { return body_; }
  const std::string& custom_id() const { return custom_id_; }
  // The demonstrations chosen by the last build().
  const std::vector<const Demonstration*>& shots() const { return shots_; }

 private:
  const SynthPlan& plan_;
  std::string sampling_key_;
  std::vector<uint64_t> demo_hashes_;
  std::vector<const Demonstration*> shots_;
  std::string prompt_;
  std::string body_;
  std::string custom_id_;
};

}  // namespace personagen
