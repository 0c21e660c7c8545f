#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "app/api_key.h"
#include "app/batch_command.h"
#include "app/check_command.h"
#include "app/cli_flags.h"
#include "app/config_file.h"
#include "app/dedup_commands.h"
#include "app/dedup_stage_commands.h"
#include "app/report_command.h"
#include "dedup/decontam.h"
#include "dedup/dedup.h"
#include "personagen/commands.h"
#include "synth/tasks.h"
#include "util/number_range.h"
#include "util/text_util.h"

namespace personagen {

namespace {

// Each of `values` split at commas, blanks around each part trimmed. Empty parts are kept, so
// that the command that uses the list can say what is wrong with it.
std::vector<std::string> split_at_commas(const std::vector<std::string>& values) {
  std::vector<std::string> parts;
  for (const std::string& value : values) {
    size_t begin = 0;
    for (;;) {
      size_t end = value.find(',', begin);
      std::string part = value.substr(begin, end == std::string::npos ? end : end - begin);
      parts.emplace_back(trim(part, kSpaceTab));
      if (end == std::string::npos) break;
      begin = end + 1;
    }
  }
  return parts;
}

// The one place that decides precedence: flags, then the environment, then defaults.
void apply_environment(Options& o) {
  auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value ? value : "";
  };
  if (o.model.empty()) o.model = env("OPENAI_MODEL");
  if (o.base_urls.empty() && !env("OPENAI_BASE_URL").empty())
    o.base_urls = {env("OPENAI_BASE_URL")};
  if (o.base_urls.empty()) o.base_urls = {kDefaultBaseUrl};
  o.base_urls = split_at_commas(o.base_urls);
}

void add_dedup_flags(CLI::App& app, DedupOptions& d, Options& o) {
  app.add_option("-i,--input", d.inputs,
                 "JSONL to deduplicate; .gz/.zst read transparently; - is stdin; repeatable; a "
                 "directory is its record shards in name order (required)");
  // Not required() here: `dedup STAGE` has its own flags. run_dedup says when they are missing.
  app.add_option("-o,--output", d.output,
                 "Where the kept records go, in input order; - is stdout (required)");
  add_minhash_flags(app, d);
  app.add_option("--report", d.report,
                 "Write one JSON line per dropped record: what it duplicates");
  add_memory_flags(app, d.memory_bytes, d.tmp);
  app.add_option("--embed-model", d.embed_model,
                 "Also drop semantic duplicates, with embeddings from this model's /v1/embeddings");
  app.add_option("--cosine", d.cosine, "Cosine similarity of a semantic duplicate")
      ->capture_default_str()
      ->transform(in_range({.max = 1, .above_min = true, .show_max = true}));
  app.add_option("--base-url", o.base_urls,
                 std::string("Embeddings endpoint base URL; repeat it or separate with commas to "
                             "balance over several (default: $OPENAI_BASE_URL, else ") +
                     kDefaultBaseUrl + ")");
  app.add_option("--api-key-file", o.api_key_file,
                 "File holding the API key (default: $OPENAI_API_KEY)");
  app.add_option("-j,--concurrency", d.concurrency, "Embedding requests in flight")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<int>(1)));
  app.add_option("--batch", d.batch, "Texts per embeddings request")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<size_t>(1)));
  app.add_option("--timeout", d.timeout_seconds, "Per-request timeout, seconds")
      ->capture_default_str()
      ->transform(in_range({.above_min = true}));
  app.add_option("--max-retries", d.max_retries, "Retries per request")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<int>(0)));
}

void add_decontam_flags(CLI::App& app, DecontamOptions& d) {
  app.add_option("-i,--input", d.inputs,
                 "JSONL of records to check; .gz/.zst read; - is stdin; repeatable; a directory "
                 "is its record shards in name order")
      ->required();
  app.add_option("-o,--output", d.output, "Where the clean records go, in input order; - is stdout")
      ->required();
  app.add_option("--against", d.against,
                 "A benchmark's test set, JSONL (repeatable), e.g. GSM8K's test.jsonl")
      ->required();
  app.add_option("--field", d.field, "The record's text that is checked")->capture_default_str();
  app.add_option("--against-field", d.against_fields,
                 "The test-set fields whose text counts, every one present (comma-separated)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--ngram", d.ngram, "Shared words in a row that make a record contaminated")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<size_t>(1)));
  app.add_option("--report", d.report,
                 "Write one JSON line per dropped record: the test line and words it shares");
}

// Moves every option of `command` in the default group, but its help flag and `common`, to a
// group of its own, so that --help lists the common ones first. Options already in a group of
// their own (render's "accepted and ignored" synth flags) stay there.
void common_flags_first(CLI::App& command, std::initializer_list<std::string_view> common) {
  for (CLI::Option* option : command.get_options()) {
    if (option == command.get_help_ptr() || option->get_group() != "Options") continue;
    bool is_common = false;
    for (std::string_view name : common)
      is_common = is_common || option->check_name(std::string(name));
    if (!is_common) option->group("More options");
  }
}

// The spdlog level called `name`, or nullopt.
std::optional<spdlog::level::level_enum> parse_log_level(const std::string& name) {
  auto level = spdlog::level::from_str(name);
  if (level == spdlog::level::off && name != "off") return std::nullopt;
  return level;
}

void setup_logging(const Options& o) {
  auto logger = spdlog::stderr_color_mt("personagen");
  logger->set_pattern("personagen: %l: %v");
  spdlog::set_default_logger(logger);
  auto level = parse_log_level(o.log_level).value_or(spdlog::level::warn);
  spdlog::set_level(o.quiet && level < spdlog::level::err ? spdlog::level::err : level);
}

// A key on the command line is visible to every user in ps and stays in the shell's history,
// and CLI11 would quote it back as an unexpected argument: --api-key is refused by name, before
// the parser sees it.
void refuse_api_key_flag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") return;
    if (arg == "--api-key" || arg.starts_with("--api-key="))
      throw usage_error(
          "--api-key is not accepted, as a key on the command line is visible to other users: "
          "use OPENAI_API_KEY or --api-key-file");
  }
}

}  // namespace

int run(int argc, char** argv) {
  // A closed stdout pipe must become a clear write error, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  Options options;
  CLI::App app{"personagen: synthetic data from personas, the Persona Hub method, at scale"};
  app.set_version_flag("--version", PERSONAGEN_VERSION);
  app.require_subcommand(1);
  // Checked while parsing, like every flag: from the end of parsing on, synth owns the exit
  // and writes its --summary on every way out.
  app.add_option("--log-level", options.log_level,
                 "Diagnostics: trace, debug, info, warn, error, off")
      ->capture_default_str()
      ->check([](const std::string& name) {
        return parse_log_level(name) ? std::string()
                                     : "expected one of trace, debug, info, warn, error, off";
      });
  app.add_flag("-q,--quiet", options.quiet,
               "No progress output; the summary only if something failed");
  ConfigFile config;
  add_config_flags(app, config);
  app.fallthrough();

  CLI::App* synth =
      app.add_subcommand("synth", "Synthesize data: one request per persona, records to shards");
  add_request_flags(*synth, options);
  add_synth_flags(*synth, options);
  common_flags_first(*synth, {"--input", "--task", "--method", "--model", "--limit", "--output",
                              "--base-url", "--api-key-file", "--concurrency", "--dry-run"});
  CLI::App* render =
      app.add_subcommand("render", "Print the exact request bodies synth would send; no network");
  add_request_flags(*render, options);
  add_synth_flags(*render, options, /*output_required=*/false);  // accepted, and ignored
  common_flags_first(*render, {"--input", "--task", "--method", "--model", "--limit"});
  DedupOptions dedup_options;
  CLI::App* dedup = app.add_subcommand(
      "dedup", "Drop exact, near (MinHash) and optionally semantic duplicates from any JSONL");
  add_dedup_flags(*dedup, dedup_options, options);
  common_flags_first(
      *dedup, {"--input", "--output", "--field", "--threshold", "--memory", "--embed-model"});
  dedup->require_subcommand(0, 1);
  DedupStageFlags dedup_stage_flags;
  DedupStageCommands dedup_stages = add_dedup_stage_commands(*dedup, dedup_stage_flags);
  DecontamOptions decontam_options;
  CLI::App* decontam = app.add_subcommand(
      "decontam", "Drop records that share a 13-word run with a benchmark's test set");
  add_decontam_flags(*decontam, decontam_options);
  ReportOptions report_options;
  CLI::App* report = add_report_command(app, report_options, options);
  common_flags_first(*report, {"--input", "--compare", "--html", "--json", "--embed-model"});
  CLI::App* check = add_check_command(app, options);
  BatchFlags batch_flags;
  BatchCommands batch = add_batch_commands(app, options, batch_flags);
  CLI::App* tasks =
      app.add_subcommand("tasks", "List the tasks, the methods and where each template comes from");
  tasks->add_option("--prompts", options.prompts_dir,
                    "Directory of templates replacing the embedded ones");
  tasks->add_option("--world", options.world_file, "Game world description for the npc task");

  // Set last: CLI11 copies a footer into the subcommands made after it, and these examples are
  // for `personagen --help` only.
  app.footer(
      "Examples:\n"
      "  personagen synth -i personas.jsonl -t math -o out/math --model MODEL\n"
      "  personagen synth -t solve -i out/math -o out/solve --model MODEL\n"
      "  personagen report -i out/solve --html report.html\n"
      "Before a long run: personagen check --base-url URL --model MODEL");
  refuse_api_key_flag(argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // CLI11 quotes the values it could not place ("not expected: sk-..."), and any value may be
    // the key pasted in the wrong place: the message is printed without them, nor the values
    // of the config file, given after "--" so that each is taken as a value.
    std::vector<std::string> values = config.values();
    std::vector<const char*> args(argv, argv + argc);
    args.push_back("--");
    for (const std::string& value : values) args.push_back(value.c_str());
    std::string message =
        without_argument_values(e.what(), static_cast<int>(args.size()), args.data());
    throw usage_error(config.where(message, std::span<char* const>(argv, argc)) + message +
                      " (see --help)");
  }
  if (config.dump) {
    std::fputs(dump_config(app).c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : static_cast<int>(ExitCode::error);
  }
  setup_logging(options);
  apply_environment(options);

  auto run_command = [&]() -> ExitCode {
    if (synth->parsed()) {
      options.command = "synth";
      options.structured_given = synth->get_option("--structured")->count() > 0;
      return run_synth(options);
    }
    if (render->parsed()) {
      options.command = "render";
      return run_render(options);
    }
    if (dedup->parsed()) {
      options.command = "dedup";
      if (std::optional<ExitCode> code =
              run_dedup_stage_command(dedup_stages, dedup_stage_flags, options)) {
        return *code;
      }
      return run_dedup_command(dedup_options, options);
    }
    if (decontam->parsed()) {
      options.command = "decontam";
      return run_decontam_command(decontam_options, options);
    }
    if (report->parsed()) {
      options.command = "report";
      return run_report_command(report_options, options);
    }
    if (check->parsed()) {
      options.command = "check";
      return run_check_command(options);
    }
    if (std::optional<ExitCode> code = run_batch_command(batch, options, batch_flags)) return *code;
    if (tasks->parsed()) {
      options.command = "tasks";
      return run_tasks(options);
    }
    return ExitCode::ok;
  };
  try {
    return static_cast<int>(run_command());
  } catch (const Error& e) {
    // An error may carry a server's words, and a server may quote the key it was given.
    throw Error(without_api_key(e.what(), options), e.code());
  }
}

}  // namespace personagen
