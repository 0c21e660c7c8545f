#include "synth/synth_plan.h"

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "input/input_files.h"
#include "personagen/error.h"
#include "synth/schemas.h"
#include "util/hash.h"
#include "util/utf8.h"

namespace personagen {

namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ",") + part;
  return out;
}

template <typename T>
std::string optional_text(const std::optional<T>& value) {
  if (!value) return "server default";
  std::ostringstream text;
  text << *value;
  return text.str();
}

// The canonical --extra-body members (RequestExtras::fields) as an object.
nlohmann::json fields_object(const std::string& fields) {
  nlohmann::json body = nlohmann::json::parse("{" + fields + "}", nullptr, false);
  return body.is_object() ? body : nlohmann::json::object();
}

// The integer "seed" among the canonical --extra-body members, if there is one.
std::optional<int64_t> body_seed(const std::string& fields) {
  nlohmann::json body = fields_object(fields);
  auto seed = body.find("seed");
  if (seed == body.end() || !seed->is_number_integer()) return std::nullopt;
  return seed->get<int64_t>();
}

// `fields` with its "seed" replaced by `seed`, in the same canonical form (keys sorted).
std::string with_seed(const std::string& fields, int64_t seed) {
  nlohmann::json body = nlohmann::json::parse("{" + fields + "}");
  body["seed"] = seed;
  std::string text = body.dump();
  return text.substr(1, text.size() - 2);
}

// The response_format of every request (--structured, --schema): the task's built-in schema,
// or a custom template's --schema. Throws a usage Error for a flag that does not apply.
std::string resolve_response_format(const Options& options, const SynthPlan& plan) {
  std::optional<Structured> mode = parse_structured(options.structured);
  if (!mode)
    throw usage_error("unknown --structured \"" + options.structured +
                      "\" (expected auto, json_schema, json_object or off)");
  std::string custom;
  if (!options.schema_file.empty()) {
    if (options.template_file.empty())
      throw usage_error("--schema applies to a custom --template; " + plan.task +
                        (task_schema(plan.kind) ? " has its built-in schema" : " replies in text"));
    custom = load_schema_file(options.schema_file);
  }
  std::optional<std::string_view> schema = task_schema(plan.kind);
  if (!custom.empty()) schema = custom;
  std::string format = response_format_json(*mode, plan.task, schema);
  if (!format.empty() && fields_object(plan.extras.fields).contains("response_format"))
    throw usage_error("--extra-body sets \"response_format\", and so does --structured " +
                      options.structured + ": give it once: --structured off to send your own");
  return format;
}

uint64_t demos_hash(const std::vector<Demonstration>& demos) {
  std::string all;
  for (const auto& demo : demos) all += demo.id + '\0' + demo.persona + '\0' + demo.output + '\0';
  return hash64(all);
}

}  // namespace

SynthPlan make_plan(const Options& options) {
  SynthPlan plan;
  bool zero_shot_only = false;
  if (!options.template_file.empty()) {
    if (!options.task.empty()) throw usage_error("--task and --template cannot be used together");
    plan.prompts = load_custom_prompts(options.template_file, options.world_file);
    plan.task = plan.prompts.task;
    plan.description = plan.task;
    // Every placeholder of a custom template other than the built-ins is an input field.
    for (const auto& name : plan.prompts.zero_shot.placeholders())
      if (name != "persona" && name != "world") plan.reader.extra_fields.push_back(name);
  } else {
    if (options.task.empty()) throw usage_error("--task is required (see `personagen tasks`)");
    const TaskInfo* info = find_task(options.task);
    if (!info) throw usage_error("unknown task \"" + options.task + "\" (see `personagen tasks`)");
    plan.task = info->name;
    plan.kind = info->kind;
    plan.role = info->role;
    plan.converse = info->name == "converse";
    zero_shot_only = info->zero_shot_only;
    plan.description = info->description;
    plan.prompts = load_task_prompts(info->name, options.prompts_dir, options.world_file,
                                     info->zero_shot_only);
  }
  auto method = parse_method(options.method);
  if (!method)
    throw usage_error("unknown method \"" + options.method +
                      "\" (expected zero-shot, few-shot or persona-few-shot)");
  plan.method = *method;
  if (zero_shot_only && plan.method != Method::zero_shot)
    throw usage_error(plan.task + " sends the input text as the prompt; only -m zero-shot applies");
  auto format = parse_output_format(options.format);
  if (!format)
    throw usage_error("unknown format \"" + options.format +
                      "\" (expected record, personahub or chat)");
  plan.format = *format;
  if (plan.kind == OutputKind::judge && plan.format != OutputFormat::record)
    throw usage_error("--format " + options.format + ": judge writes --format record only");
  if (options.shots < 0) throw usage_error("--shots must be 0 or more");
  plan.shots = plan.method == Method::zero_shot ? 0 : static_cast<size_t>(options.shots);
  if (plan.shots > 0 && plan.prompts.demos.empty())
    throw usage_error(plan.prompts.source + ": " + std::string(to_string(plan.method)) +
                      " needs demonstrations, and there are none");
  plan.creates_personas = plan.kind == OutputKind::persona || plan.kind == OutputKind::persona_list;
  if (plan.creates_personas && plan.format != OutputFormat::record)
    throw usage_error("--format applies to synthesis tasks; " + plan.task +
                      " writes persona records");
  if (plan.role == TaskRole::training && plan.format == OutputFormat::personahub)
    throw usage_error("--format personahub applies to the synthesis tasks; " + plan.task +
                      " writes record or chat");
  if (options.keep_reasoning && plan.format != OutputFormat::chat)
    throw usage_error("--keep-reasoning applies to --format chat (records keep \"reasoning\")");
  plan.keep_reasoning = options.keep_reasoning;
  plan.samples = options.samples > 0                 ? static_cast<size_t>(options.samples)
                 : plan.kind == OutputKind::solution ? 3
                                                     : 1;
  if (options.agree > 0 && plan.kind != OutputKind::solution)
    throw usage_error("--agree applies to solve only");
  if (plan.kind == OutputKind::solution) {
    plan.agree =
        options.agree > 0 ? static_cast<size_t>(options.agree) : std::min<size_t>(2, plan.samples);
    if (plan.agree > plan.samples)
      throw usage_error("--agree " + std::to_string(plan.agree) + " is more than --samples " +
                        std::to_string(plan.samples) + ": no problem could ever be kept");
  }
  if (plan.converse) {
    if (options.turns < 1) throw usage_error("--turns must be 1 or more");
    plan.turns = static_cast<size_t>(options.turns);
  }
  if (plan.role == TaskRole::training) {
    // The text is a record's output (synth writes "output"; Persona Hub's files "synthesized
    // text"), and the record's persona and ids travel into the new record.
    if (options.fields.empty()) plan.reader.persona_fields = {"output", "synthesized text"};
  }
  // judge: any record's text (a solve record's is its "problem"), scored on a rubric chosen by
  // its "task" or "description" unless --rubric names one; the scores may send it aside.
  if (plan.kind == OutputKind::judge) {
    if (options.fields.empty()) plan.reader.persona_fields.push_back("problem");
    plan.rubrics = JudgeRubrics::load(options.rubric, options.prompts_dir);
    plan.min_score = options.min_score;
  } else {
    if (!options.rubric.empty()) throw usage_error("--rubric applies to -t judge only");
    if (options.min_score) throw usage_error("--min-score applies to -t judge only");
  }
  if (plan.kind == OutputKind::persona) {
    plan.relations =
        options.relations.empty() ? std::vector<std::string>{"read"} : options.relations;
    for (size_t i = 0; i < plan.relations.size(); ++i) {
      const std::string& relation = plan.relations[i];
      if (std::find(plan.relations.begin(), plan.relations.begin() + static_cast<long>(i),
                    relation) != plan.relations.begin() + static_cast<long>(i))
        throw usage_error("--relation " + relation +
                          " is given twice; each relation makes one request per text");
      if (relation != "read" && relation != "write" && relation != "like" && relation != "dislike")
        throw usage_error("unknown --relation \"" + relation +
                          "\" (expected read, write, like or dislike)");
    }
    plan.max_input_bytes = options.max_input_bytes;
    if (options.fields.empty()) plan.reader.persona_fields = {"text", "persona"};
  } else if (!options.relations.empty()) {
    throw usage_error("--relation applies to text-to-persona only");
  }
  if (options.hops < 1 || options.hops > 6) throw usage_error("--hops must be 1 to 6");
  if (options.hops > 1 && plan.kind != OutputKind::persona_list)
    throw usage_error("--hops applies to persona-to-persona only");
  plan.input_files = expand_inputs(options.inputs);
  // A persona record's custom_id identifies the persona downstream (its persona_id).
  plan.reader.optional_fields = {"custom_id"};
  if (plan.creates_personas) plan.reader.optional_fields.push_back("hop");
  if (plan.role == TaskRole::training)
    for (const char* field : {"persona", "input persona", "persona_id"})
      plan.reader.optional_fields.push_back(field);
  if (plan.kind == OutputKind::judge)
    for (const char* field : {"task", "description"}) plan.reader.optional_fields.push_back(field);
  plan.selection = {options.match,  options.exclude, options.where,
                    options.sample, options.seed,    options.part};
  for (const auto& field : Selection(plan.selection).fields())  // also checks the flags
    plan.reader.optional_fields.push_back(field);
  plan.template_id = plan.task + "/" + std::string(to_string(plan.method));
  plan.model = options.model;
  plan.seed = options.seed;
  plan.sampling = {options.temperature, options.top_p, options.max_tokens};
  plan.extras.system = options.system;
  if (!options.extra_body.empty()) {
    plan.extras.fields = extra_body_fields(options.extra_body, plan.sampling);
    plan.body_seed = body_seed(plan.extras.fields);
  }
  plan.extras.response_format = resolve_response_format(options, plan);
  if (!options.fields.empty()) plan.reader.persona_fields = options.fields;

  plan.config = {
      {"input", join_inputs(options.inputs)},
      {"field", join(plan.reader.persona_fields)},
      {"limit", options.limit ? std::to_string(options.limit) : "none"},
      {"task", plan.task},
      {"method", std::string(to_string(plan.method))},
      {"template", plan.template_id + "@" + hex64(plan.templ().hash())},
      {"demonstrations", plan.shots ? hex64(demos_hash(plan.prompts.demos)) : "none"},
      {"world", plan.prompts.world.empty() ? "none" : hex64(hash64(plan.prompts.world))},
      {"model", plan.model},
      {"seed", std::to_string(plan.seed)},
      {"shots", std::to_string(plan.shots)},
      {"temperature", optional_text(plan.sampling.temperature)},
      {"top_p", optional_text(plan.sampling.top_p)},
      {"max_tokens", optional_text(plan.sampling.max_tokens)},
      {"format", options.format},
      {"shard_size", std::to_string(options.shard_size)},
  };
  auto list = [](const std::vector<std::string>& values) {
    std::string out;
    for (const auto& v : values) out += (out.empty() ? "" : " | ") + v;
    return out.empty() ? std::string("none") : out;
  };
  plan.config.emplace_back("match", list(options.match));
  plan.config.emplace_back("exclude", list(options.exclude));
  plan.config.emplace_back("where", list(options.where));
  plan.config.emplace_back("sample", options.sample ? std::to_string(options.sample) : "none");
  // Only when given, so runs made before these flags existed still resume.
  if (!plan.extras.system.empty())
    plan.config.emplace_back("system", hex64(hash64(plan.extras.system)));
  if (!plan.extras.fields.empty()) plan.config.emplace_back("extra_body", plan.extras.fields);
  if (!plan.extras.response_format.empty())
    plan.config.emplace_back("response_format", hex64(hash64(plan.extras.response_format)));
  if (!options.part.empty()) plan.config.emplace_back("part", options.part);
  // Only when they differ from what runs before these flags did, so those runs still resume.
  if (plan.samples != 1) plan.config.emplace_back("samples", std::to_string(plan.samples));
  if (plan.agree) plan.config.emplace_back("agree", std::to_string(plan.agree));
  if (plan.converse) {
    plan.config.emplace_back("turns", std::to_string(plan.turns));
    plan.config.emplace_back("user_turn", hex64(plan.prompts.user_turn.hash()));
  }
  if (plan.keep_reasoning) plan.config.emplace_back("keep_reasoning", "yes");
  if (plan.kind == OutputKind::judge) {
    plan.config.emplace_back("rubric", plan.rubrics.config_value());
    if (plan.min_score) plan.config.emplace_back("min_score", optional_text(plan.min_score));
  }
  if (plan.kind == OutputKind::persona) {
    plan.config.emplace_back("relations", join(plan.relations));
    plan.config.emplace_back("max_input_bytes", std::to_string(plan.max_input_bytes));
  }
  return plan;
}

std::vector<InputRecord> read_sample(RecordReader& reader, const Selection& selection) {
  std::vector<InputRecord> rejects;
  std::vector<InputRecord> sample = reservoir_sample(
      reader, selection.sample(), selection.seed(),
      [&selection](const InputRecord& record) { return selection.selected(record); }, rejects);
  std::vector<InputRecord> merged;
  merged.reserve(sample.size() + rejects.size());
  std::merge(std::make_move_iterator(sample.begin()), std::make_move_iterator(sample.end()),
             std::make_move_iterator(rejects.begin()), std::make_move_iterator(rejects.end()),
             std::back_inserter(merged),
             [](const InputRecord& a, const InputRecord& b) { return a.line < b.line; });
  return merged;
}

RequestBuilder::RequestBuilder(const SynthPlan& plan) : plan_(plan) {
  sampling_key_ = optional_text(plan.sampling.temperature) + "|" +
                  optional_text(plan.sampling.top_p) + "|" +
                  optional_text(plan.sampling.max_tokens);
  for (const auto& demo : plan.prompts.demos)
    demo_hashes_.push_back(hash64(demo.persona + '\0' + demo.output));
}

// Cuts `text` to at most `max` bytes at a UTF-8 boundary, at a space if one is near the end:
// within 200 bytes, about 30 words, so that a cut persona does not end mid-word yet loses little.
std::string_view cut_text(std::string_view text, size_t max) {
  if (max == 0 || text.size() <= max) return text;
  size_t end = utf8_prefix(text, max).size();
  size_t space = text.rfind(' ', end);
  if (space != std::string_view::npos && space + 200 > end) end = space;
  return text.substr(0, end);
}

const RequestExtras& RequestBuilder::extras_for(size_t sample) {
  if (sample == 0 || !plan_.body_seed) return plan_.extras;
  seeded_.system = plan_.extras.system;
  seeded_.response_format = plan_.extras.response_format;
  seeded_.fields = with_seed(plan_.extras.fields, *plan_.body_seed + static_cast<int64_t>(sample));
  return seeded_;
}

void RequestBuilder::build(const InputRecord& record, size_t unit) {
  shots_.clear();
  size_t relation_index = unit / plan_.samples;
  uint64_t sample = unit % plan_.samples;
  std::string_view persona = cut_text(record.persona, plan_.max_input_bytes);
  std::string_view relation = plan_.relations[relation_index];
  KeyHasher key;
  key.add("personagen/1").add(plan_.task).add(to_string(plan_.method)).add(plan_.templ().hash());
  if (plan_.shots > 0) {
    for (size_t index :
         sample_shots(plan_.prompts.demos.size(), plan_.shots, plan_.seed, record.persona)) {
      shots_.push_back(&plan_.prompts.demos[index]);
      key.add(plan_.prompts.demos[index].id).add(demo_hashes_[index]);
    }
  }
  key.add(plan_.model).add(sampling_key_).add(persona).add(relation);
  // Only when given, so the keys of requests without them stay what they were.
  if (!plan_.extras.system.empty() || !plan_.extras.fields.empty())
    key.add(plan_.extras.system).add(plan_.extras.fields);
  if (!plan_.extras.response_format.empty()) key.add(plan_.extras.response_format);
  // Only the fields a custom template uses shape the request; provenance fields do not.
  for (const auto& [name, value] : record.fields)
    if (std::find(plan_.reader.extra_fields.begin(), plan_.reader.extra_fields.end(), name) !=
        plan_.reader.extra_fields.end())
      key.add(name).add(value);
  key.add(hash64(plan_.prompts.world)).add(sample);
  if (plan_.converse) {
    // The persona plays the user, so it shapes every turn after the first.
    key.add(plan_.turns).add(plan_.prompts.user_turn.hash()).add(source_fields(record).persona);
  }
  // judge: the template's {{persona}} is the judged record's persona, {{text}} its text, and
  // {{rubric}} the rubric it is scored on; all three shape the request.
  std::string_view judged_persona;
  if (plan_.kind == OutputKind::judge) {
    const Rubric& rubric = plan_.rubrics.for_record(record);
    judged_persona = source_fields(record).persona;
    key.add(hash64(rubric.text)).add(judged_persona);
    judge_fields_ = {{"text", std::string(persona)}, {"rubric", rubric.text}};
    if (judged_persona.empty()) judged_persona = "(none given)";
  }
  custom_id_ = "pg-" + key.hex128();

  TemplateValues values{persona, plan_.prompts.world, relation, &record.fields};
  if (plan_.kind == OutputKind::judge) values = {judged_persona, {}, {}, &judge_fields_};
  plan_.templ().render(values, shots_, prompt_);
  body_ = build_chat_body(plan_.model, prompt_, plan_.sampling, extras_for(sample));
}

void RequestBuilder::build_turn(std::string_view persona, std::span<const ChatMessage> messages,
                                size_t unit, size_t step) {
  const RequestExtras& extras = extras_for(unit % plan_.samples);
  if (step % 2 == 0) {
    body_ = build_chat_body(plan_.model, messages, plan_.sampling, extras);
    return;
  }
  transcript_.clear();
  for (const ChatMessage& message : messages) {
    if (!transcript_.empty()) transcript_ += "\n\n";
    transcript_ += message.role == "user" ? "User: " : "Assistant: ";
    transcript_ += message.content;
  }
  std::vector<std::pair<std::string, std::string>> fields{{"conversation", transcript_}};
  TemplateValues values{persona, {}, {}, &fields};
  plan_.prompts.user_turn.render(values, {}, prompt_);
  // The system message speaks to the assistant; the persona writing as the user does not get it,
  // and writes text, not the task's JSON.
  RequestExtras user_extras{"", extras.fields, ""};
  body_ = build_chat_body(plan_.model, prompt_, plan_.sampling, user_extras);
}

SourceFields source_fields(const InputRecord& record) {
  SourceFields source;
  source.source_id = record.id;
  for (const auto& [name, value] : record.fields) {
    if (name == "persona" || (name == "input persona" && source.persona.empty()))
      source.persona = value;
    else if (name == "persona_id")
      source.persona_id = value;
    else if (name == "custom_id")
      source.source_id = value;
  }
  return source;
}

}  // namespace personagen
