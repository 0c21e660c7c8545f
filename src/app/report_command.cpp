#include "app/report_command.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <utility>

#include "app/api_key.h"
#include "app/cli_flags.h"
#include "app/terminal.h"
#include "dedup/dedup_files.h"
#include "input/input_files.h"
#include "report/report_writers.h"
#include "store/atomic_file.h"
#include "util/signal_guard.h"

namespace personagen {

namespace {

// Flags that parse but do not fit together: a usage Error, before anything is read.
void validate(const ReportOptions& r) {
  if (r.html_path == "-")
    throw usage_error("report: --html needs a file (only --json can go to stdout, as -)");
  if (!r.json_path.empty() && r.json_path == r.html_path)
    throw usage_error("report: --json and --html must be different files");
  // A report written over one of the files it reads would replace the data.
  std::vector<std::string> read = r.input.inputs;
  read.insert(read.end(), r.compare.begin(), r.compare.end());
  for (const std::string& in : std::vector<std::string>(read)) {
    std::error_code error;
    if (!std::filesystem::is_directory(in, error)) continue;
    for (const std::string& shard : expand_inputs({in})) read.push_back(shard);
  }
  for (const std::string& out : {r.json_path, r.html_path}) {
    if (out.empty() || out == "-") continue;
    std::error_code error;
    for (const std::string& in : read)
      if (std::filesystem::equivalent(out, in, error))
        throw usage_error("report: " + out + " is an input; write the report to another file");
  }
  if (r.input.field.empty()) throw usage_error("report: --field must name a field");
  if (r.input.persona_field.empty()) throw usage_error("report: --persona-field must name a field");
}

// The datasets: -i as one, then each --compare path as one more, labelled by its path.
std::vector<ReportInput> datasets_of(const ReportOptions& r, const Options& o) {
  ReportInput first = r.input;
  first.price_in = o.price_in;
  first.price_out = o.price_out;
  first.text_sample = r.embed_model.empty() ? 0 : r.sample;
  if (first.label.empty()) first.label = join_inputs(first.inputs);
  std::vector<ReportInput> datasets{first};
  for (const std::string& path : r.compare) {
    ReportInput other = first;
    other.inputs = {path};
    other.label = path;
    datasets.push_back(std::move(other));
  }
  return datasets;
}

// Adds similarity to each dataset's figures from its sample. SIGINT and SIGTERM stop it with
// ExitCode::interrupted (fetch_embeddings and the pair loops watch the level).
void add_similarity(const ReportOptions& r, const Options& o, std::vector<Figures>& figures,
                    const std::vector<std::vector<TextPair>>& samples) {
  SimilarityOptions similarity;
  similarity.model = r.embed_model;
  similarity.base_urls = o.base_urls;
  similarity.api_key = read_api_key(o);
  similarity.seed = r.input.seed;
  // One cache for the command: datasets compared over the same personas fetch them once. Not
  // kept, since a nightly report over new records would grow it without end.
  similarity.cache_path = make_temp_path("personagen-report-embeddings");
  TempFileRemover remover(similarity.cache_path);
  SignalGuard signals;
  for (size_t i = 0; i < figures.size(); ++i) {
    if (!o.quiet)
      std::fprintf(stderr, "personagen: report: embedding %zu records of %s with %s\n",
                   samples[i].size(), figures[i].label.c_str(), r.embed_model.c_str());
    figures[i].similarity = measure_similarity(samples[i], similarity, signals.level());
  }
}

}  // namespace

CLI::App* add_report_command(CLI::App& app, ReportOptions& r, Options& o) {
  CLI::App* report = app.add_subcommand(
      "report", "Figures of a dataset: run, lengths, diversity, openings, tasks; text, JSON, HTML");
  report
      ->add_option(
          "-i,--input", r.input.inputs,
          "Records as JSONL (synth, solve, judge, converse, or any with --field); .gz/.zst "
          "read; repeatable, all one dataset; a directory is a run's output: its shards, "
          "side files and manifest")
      ->required();
  report
      ->add_option("--field", r.input.field,
                   "The text measured: a string field, or an object (npc, tool)")
      ->capture_default_str();
  report->add_option("--persona-field", r.input.persona_field, "The persona of each record")
      ->capture_default_str();
  report->add_option("--json", r.json_path,
                     "Write every figure as JSON (docs/report-json.md) to FILE; - is stdout, "
                     "and then no text summary");
  report->add_option("--html", r.html_path,
                     "Write one self-contained page with charts to FILE (no scripts, nothing from "
                     "the network)");
  report->add_option("--compare", r.compare,
                     "More datasets, each a directory or file of its own, labelled by its path, "
                     "shown in columns beside -i");
  report->add_option("--embed-model", r.embed_model,
                     "Also embed a sample of outputs and personas with this model's /embeddings "
                     "(the API key is read only then): the mean pairwise cosine of outputs, and "
                     "output similarity against persona similarity. Embeddings are cached for "
                     "this command only");
  report->add_option("--sample", r.sample, "Records embedded with --embed-model")
      ->capture_default_str()
      ->transform(in_range({.whole = true,
                            .min = 2,
                            .max = static_cast<long double>(kMaxSimilaritySample),
                            .show_max = true}));
  report->add_option("--dup-sample", r.input.dup_sample, "Records in the near-duplicate sample")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<size_t>(1)));
  report->add_option("--seed", r.input.seed, "Seed for the samples")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<uint64_t>(0)));
  add_price_flags(*report, o);
  add_endpoint_flags(*report, o);
  return report;
}

ExitCode run_report_command(ReportOptions& r, const Options& o) {
  validate(r);
  const std::vector<ReportInput> inputs = datasets_of(r, o);

  // Every dataset is read once, streaming; only the samples are kept for what comes next.
  std::vector<Figures> figures;
  std::vector<std::vector<TextPair>> samples(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    figures.push_back(collect_figures(inputs[i], r.embed_model.empty() ? nullptr : &samples[i]));
    if (figures.back().label.empty()) figures.back().label = inputs[i].label;
  }
  if (!r.embed_model.empty()) add_similarity(r, o, figures, samples);

  // From here on only the writers run: each file appears whole or not at all.
  if (!r.json_path.empty()) {
    std::string json = report_json(figures);
    if (!json.ends_with('\n')) json += '\n';
    if (r.json_path == "-") {
      write_stdout(json);
    } else {
      write_file_atomic(r.json_path, json);
    }
  }
  if (!r.html_path.empty()) write_file_atomic(r.html_path, report_html(figures));
  if (!o.quiet && r.json_path != "-") {
    write_report_text(std::cout, figures);
    if (!std::cout.flush()) throw Error("report: writing to stdout failed");
  }
  spdlog::info("report: {} dataset(s) read", figures.size());
  return ExitCode::ok;
}

}  // namespace personagen
