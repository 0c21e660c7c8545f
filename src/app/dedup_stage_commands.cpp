#include "app/dedup_stage_commands.h"

#include <cstdio>
#include <optional>
#include <string>

#include "app/cli_flags.h"
#include "util/byte_size.h"
#include "util/text_util.h"

namespace personagen {
namespace {

void add_work_flag(CLI::App& app, std::string& work) {
  app.add_option("-o,--work", work, "The work directory every stage and part shares")->required();
}

void add_part_flag(CLI::App& app, std::string& part) {
  app.add_option("--part", part,
                 "Part I of N of the input files, I from 0 to N-1 (a Slurm array's "
                 "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)")
      ->capture_default_str();
}

void add_input_flag(CLI::App& app, std::vector<std::string>& inputs) {
  app.add_option("-i,--input", inputs,
                 "The JSONL files or directories of shards, the same list for every part; "
                 ".gz/.zst read transparently")
      ->required();
}

CLI::App* add_stage(CLI::App& dedup, const char* name, const char* what) {
  CLI::App* stage = dedup.add_subcommand(name, what);
  stage->fallthrough(false);  // a flag of `dedup` given to a stage is an error, not ignored
  return stage;
}

std::string count(uint64_t n) {
  return with_commas(n);
}

void say(const Options& options, const std::string& line) {
  if (!options.quiet) std::fprintf(stderr, "personagen: %s\n", line.c_str());
}

}  // namespace

void add_minhash_flags(CLI::App& app, DedupOptions& d) {
  app.add_option("--field", d.field, "The text field compared (e.g. output for synth records)")
      ->capture_default_str();
  app.add_option("--ngram", d.ngram, "Word n-grams for MinHash")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<size_t>(1)));
  app.add_option("--num-perm", d.num_perm, "MinHash permutations")
      ->capture_default_str()
      ->transform(in_range({.whole = true, .min = 1, .max = 4096, .show_max = true}));
  app.add_option("--threshold", d.threshold, "Jaccard similarity of a near duplicate")
      ->capture_default_str()
      ->transform(in_range({.max = 1, .above_min = true, .show_max = true}));
  app.add_option("--bands", d.bands, "LSH bands (default: chosen to catch >= 99% at the threshold)")
      ->transform(in_range(whole_at_least<size_t>(0)));
  app.add_option("--rows", d.rows, "LSH rows per band (bands x rows <= num-perm)")
      ->transform(in_range(whole_at_least<size_t>(0)));
  app.add_option("--seed", d.seed, "Seed for the MinHash permutations")
      ->capture_default_str()
      ->transform(in_range(whole_at_least<uint64_t>(0)));
}

void add_memory_flags(CLI::App& app, size_t& bytes, std::string& tmp, bool stage) {
  app.add_option_function<std::string>(
         "--memory", [&bytes](const std::string& text) { bytes = *parse_byte_size(text); },
         stage ? "Memory for the sort buffers, e.g. 4G or 512M, at least 1M (default: 1G); past "
                 "it, sorted runs go to --tmp"
               : "Memory for the index or the sort buffers, e.g. 4G or 512M, at least 1M "
                 "(default: half the machine); past it, sorted runs go to --tmp")
      ->check(CLI::Validator(
          [](std::string& text) {
            const std::optional<size_t> size = parse_byte_size(text);
            if (!size) return std::string("expected a size such as 4G or 512M");
            return *size < kMinMemoryBytes ? std::string("at least 1M") : std::string();
          },
          "SIZE"));
  app.add_option("--tmp", tmp,
                 stage ? "Directory for the sorted runs (default: WORK/tmp)"
                       : "Directory for the sorted runs (default: $TMPDIR, else /tmp)");
}

void parse_band_range(const std::string& text, size_t& begin, size_t& end) {
  auto number = [&](const std::string& part) {
    if (part.empty() || part.size() > 6 || part.find_first_not_of("0123456789") != part.npos) {
      throw usage_error("--bands " + text + ": expected a band range such as 0-5 (inclusive)");
    }
    return static_cast<size_t>(std::stoul(part));
  };
  const size_t dash = text.find('-');
  begin = number(text.substr(0, dash));
  const size_t last = dash == std::string::npos ? begin : number(text.substr(dash + 1));
  if (last < begin) {
    throw usage_error("--bands " + text + ": the first band is after the last");
  }
  end = last + 1;
}

DedupStageCommands add_dedup_stage_commands(CLI::App& dedup, DedupStageFlags& f) {
  DedupStageCommands c;
  StageOptions& s = f.stage;
  c.signatures = add_stage(dedup, "signatures",
                           "Stage 1 of the staged dedup: part I/N's keys and MinHash band keys, "
                           "sorted, into the work directory");
  add_input_flag(*c.signatures, s.dedup.inputs);
  add_part_flag(*c.signatures, f.part);
  add_work_flag(*c.signatures, s.work);
  add_minhash_flags(*c.signatures, s.dedup);
  add_memory_flags(*c.signatures, s.memory_bytes, s.tmp, true);

  c.buckets = add_stage(dedup, "buckets",
                        "Stage 2: merge every part's band keys for a range of bands; verify the "
                        "candidate pairs");
  add_work_flag(*c.buckets, s.work);
  c.buckets->add_option("--bands", f.bands,
                        "The bands of this job, e.g. 0-5 (inclusive, 0-based; default: all)");
  add_memory_flags(*c.buckets, s.memory_bytes, s.tmp, true);

  c.clusters = add_stage(dedup, "clusters",
                         "Stage 3: the exact duplicates, then each near duplicate's earlier kept "
                         "record, in input order");
  add_work_flag(*c.clusters, s.work);
  add_memory_flags(*c.clusters, s.memory_bytes, s.tmp, true);

  c.filter = add_stage(dedup, "filter", "Stage 4: copy part I/N's kept records to --output");
  add_input_flag(*c.filter, s.dedup.inputs);
  add_part_flag(*c.filter, f.part);
  add_work_flag(*c.filter, s.work);
  c.filter->add_option("--output", s.dedup.output, "Where this part's kept records go")->required();
  c.filter->add_option("--report", s.dedup.report,
                       "Write one JSON line per dropped record of this part");
  return c;
}

std::optional<ExitCode> run_dedup_stage_command(const DedupStageCommands& c, DedupStageFlags& f,
                                                const Options& options) {
  StageOptions& s = f.stage;
  auto done = [&](const std::string& what, const StageResult& r, const std::string& figures) {
    say(options,
        "dedup " + what +
            (r.already_done ? ": already done in " + s.work : ": " + figures + " -> " + s.work));
    return ExitCode::ok;
  };
  auto spilled = [](const StageResult& r) {
    return r.spilled_runs > 0 ? ", " + count(r.spilled_runs) + " sorted runs spilled" : "";
  };
  if (c.signatures->parsed() || c.filter->parsed()) s.part = parse_part(f.part, "--part");
  const std::string part = "part " + f.part;
  if (c.signatures->parsed()) {
    const StageResult r = dedup_signatures(s);
    return done("signatures " + part, r, count(r.records) + " records" + spilled(r));
  }
  if (c.buckets->parsed()) {
    if (!f.bands.empty()) parse_band_range(f.bands, s.band_begin, s.band_end);
    const StageResult r = dedup_buckets(s);
    return done(
        "buckets " + (f.bands.empty() ? std::string("of every band") : "of bands " + f.bands), r,
        count(r.pairs) + " candidate pairs checked" + spilled(r));
  }
  if (c.clusters->parsed()) {
    const StageResult r = dedup_clusters(s);
    return done("clusters", r,
                count(r.records) + " records judged, " + count(r.pairs) + " duplicates found");
  }
  if (c.filter->parsed()) {
    const StageResult r = dedup_filter(s);
    const DedupStats& st = r.stats;
    if (!r.already_done) {
      say(options, "dedup filter " + part + ": kept " + count(st.kept) + " of " + count(st.read) +
                       " records (" + count(st.exact_dropped) + " exact, " +
                       count(st.near_dropped) + " near duplicates dropped; " + count(st.rejected) +
                       " rejected) -> " + s.dedup.output);
      return ExitCode::ok;
    }
    return done("filter " + part, r, "");
  }
  return std::nullopt;
}

}  // namespace personagen
