#include "store/dataset_card.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "store/atomic_file.h"
#include "util/cost.h"
#include "util/file_io.h"
#include "util/json_text.h"

namespace personagen {

namespace {

// The line of the card's YAML tags that marks a README.md as one personagen wrote.
constexpr std::string_view kCardMark = "\n- personagen\n";

// The value of configuration entry `name`, or "" when the run has none.
std::string config_value(const RunConfig& config, std::string_view name) {
  for (const auto& [key, value] : config)
    if (key == name) return value;
  return "";
}

// `text` as a YAML scalar that reads back as the same text: a JSON string is a valid YAML
// double-quoted scalar.
std::string yaml_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

// `text` inside a Markdown table cell: pipes escaped, line breaks as spaces.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|' || c == '\\' || c == '`' || c == '<') out += '\\';
    out += c == '\n' || c == '\r' ? ' ' : c;
  }
  return out;
}

std::string number(double value, const char* format) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

void append_header(std::string& out, const Manifest& m, const Options& options) {
  const std::string task = config_value(m.config, "task");
  out += "---\n";
  if (!options.license.empty()) out += "license: " + yaml_string(options.license) + "\n";
  out += "tags:\n- synthetic\n- personas\n- persona-hub\n- personagen\n";
  // A judge's records are scores of other records; everything else is generated text.
  out += "task_categories:\n- ";
  out += task == "judge" ? "text-classification" : "text-generation";
  out += "\nsize_categories:\n- ";
  out += size_category(m.checkpoint.totals.records);
  out += "\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path:";
  bool any = false;
  for (const ShardInfo& shard : m.checkpoint.writer.shards) {
    if (shard.open) continue;  // still <name>.tmp: its records are not in a data file yet
    out += "\n    - " + yaml_string(shard.name);
    any = true;
  }
  out += any ? "\n" : " []\n";
  out += "---\n\n";
}

void append_counts(std::string& out, const Manifest& m) {
  const Totals& t = m.checkpoint.totals;
  size_t closed = 0;
  for (const ShardInfo& shard : m.checkpoint.writer.shards) closed += shard.open ? 0 : 1;
  out += "## Counts\n\n| what | count |\n|---|---:|\n";
  out += "| records | " + std::to_string(t.records) + " |\n";
  out += "| shards | " + std::to_string(closed) + " |\n";
  for (const SideFileInfo& side : kSideFiles)
    out += "| " + std::string(side.manifest_key) + " (`" + std::string(side.file_name) + "`) | " +
           std::to_string(m.checkpoint.writer.side(side.file).lines) + " |\n";
  out += "| requests (retries included) | " + std::to_string(t.requests) + " |\n";
  out += "| retries | " + std::to_string(t.retries) + " |\n\n";
  out +=
      "The side files are not data files: `failures.jsonl` holds the requests that failed for "
      "good, `rejects.jsonl` the input lines that were not a usable persona, "
      "`unverified.jsonl` the solve lines whose solutions did not agree, and "
      "`below-threshold.jsonl` the judged records scored under --min-score.\n\n";
}

void append_tokens(std::string& out, const Manifest& m, const Options& options) {
  const Totals& t = m.checkpoint.totals;
  bool billed = t.billed_prompt_tokens > 0 || t.billed_completion_tokens > 0;
  out += "## Tokens\n\n| | prompt | completion |\n|---|---:|---:|\n";
  out += "| accepted (in the records) | " + std::to_string(t.prompt_tokens) + " | " +
         std::to_string(t.completion_tokens) + " |\n";
  if (billed)
    out += "| billed (retries and rejected replies included) | " +
           std::to_string(t.billed_prompt_tokens) + " | " +
           std::to_string(t.billed_completion_tokens) + " |\n";
  out += "\n";
  if (!options.price_in && !options.price_out) return;
  double cost = *cost_of(billed ? t.billed_prompt_tokens : t.prompt_tokens,
                         billed ? t.billed_completion_tokens : t.completion_tokens, options);
  out += "## Cost\n\nUSD " + number(cost, "%.4f") + " for the " +
         (billed ? std::string("billed") : std::string("accepted")) + " tokens, at USD " +
         number(options.price_in.value_or(0), "%g") + " per million prompt tokens and USD " +
         number(options.price_out.value_or(0), "%g") + " per million completion tokens.\n\n";
}

}  // namespace

std::string_view size_category(uint64_t records) {
  static constexpr std::string_view kNames[] = {
      "n<1K",      "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M",
      "100M<n<1B", "1B<n<10B", "10B<n<100B", "100B<n<1T", "n>1T"};
  size_t k = 0;
  for (uint64_t bound = 1000; k + 1 < std::size(kNames) && records >= bound; bound *= 10) ++k;
  return kNames[k];
}

std::string format_dataset_card(const Manifest& m, const Options& options) {
  std::string out;
  append_header(out, m, options);
  std::string task = config_value(m.config, "task");
  std::string method = config_value(m.config, "method");
  std::string model = config_value(m.config, "model");
  out += "# Synthetic " + cell(task.empty() ? "custom-template" : task) + " data from personas\n\n";
  out += "This dataset is **synthetic**: every record was generated by a large language model" +
         (model.empty() ? std::string() : " (`" + cell(model) + "`)") +
         " from a persona, with personagen, which implements the Persona "
         "Hub method of \"Scaling Synthetic Data Creation with 1,000,000,000 Personas\" "
         "([arXiv:2406.20094](https://arxiv.org/abs/2406.20094)). " +
         (config_value(m.config, "format") == "chat"
              ? std::string("Each record is one conversation (`{\"messages\": [...]}`), the "
                            "shape TRL and Axolotl read; the settings it was made with are below. ")
              : std::string("Each record carries `\"synthetic\": true`, the persona it was made "
                            "from and its prompt template. ")) +
         "Task: " + cell(task.empty() ? "a custom template" : task) +
         "; prompting method: " + cell(method) + ".\n\n";
  if (!m.complete)
    out +=
        "This run is **in progress**: the counts are those of its last checkpoint, and the "
        "data files are the shards closed so far.\n\n";
  out += "## Configuration\n\n| setting | value |\n|---|---|\n";
  for (const auto& [key, value] : m.config) out += "| " + cell(key) + " | " + cell(value) + " |\n";
  out += "\n## Templates\n\n";
  for (std::string_view key : {"template", "user_turn"}) {
    std::string id = config_value(m.config, key);
    if (!id.empty()) out += "- " + cell(id) + "\n";
  }
  out += "\n";
  append_counts(out, m);
  append_tokens(out, m, options);
  out += "Written by personagen " + cell(m.tool_version) + ".\n";
  return out;
}

void write_dataset_card_beside(const std::string& manifest_path, const Manifest& manifest,
                               const Options& options) {
  size_t slash = manifest_path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : manifest_path.substr(0, slash);
  std::string path = dir + "/" + kDatasetCardName;
  // A README.md that is not a card of ours is the user's (kept through --restart): leave it.
  if (std::optional<std::string> existing = read_text_file(path);
      existing && existing->find(kCardMark) == std::string::npos) {
    static std::string warned;  // once per directory, not at every checkpoint
    if (warned != path) spdlog::warn("{}: not a personagen dataset card; left as it is", path);
    warned = path;
    return;
  }
  write_file_atomic(path, format_dataset_card(manifest, options));
}

}  // namespace personagen
