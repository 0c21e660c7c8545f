#include "dedup/dedup.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "dedup/dedup_files.h"
#include "dedup/dedup_stages.h"
#include "dedup/embedding_cache.h"
#include "dedup/embedding_client.h"
#include "dedup/embedding_index.h"
#include "dedup/minhash.h"
#include "dedup/syntactic_dedup.h"
#include "input/record_reader.h"
#include "net/endpoint_balancer.h"
#include "personagen/error.h"
#include "util/byte_size.h"
#include "util/json_text.h"
#include "util/signal_guard.h"

namespace personagen {

// Each kept record may store one 32-bit value per permutation; past a few thousand, the estimate
// of the Jaccard similarity hardly improves while the memory per record keeps growing. The same
// bound is on --num-perm in cli.cpp.
constexpr size_t kMaxPermutations = 4096;

void validate_minhash_options(const DedupOptions& o) {
  if (o.field.empty()) throw usage_error("dedup: --field must name a field");
  if (o.ngram < 1) throw usage_error("dedup: --ngram must be at least 1");
  if (o.num_perm < 1 || o.num_perm > kMaxPermutations) {
    throw usage_error("dedup: --num-perm must be within 1.." + std::to_string(kMaxPermutations));
  }
  if (!(o.threshold > 0 && o.threshold <= 1)) {
    throw usage_error("dedup: --threshold must be within (0, 1]");
  }
  if (std::max<size_t>(o.bands, 1) * std::max<size_t>(o.rows, 1) > o.num_perm) {
    throw usage_error("dedup: --bands x --rows must be at most --num-perm (" +
                      std::to_string(o.num_perm) + ")");
  }
}

LshBands dedup_banding(const DedupOptions& o) {
  if (o.bands == 0 && o.rows == 0) return choose_lsh_bands(o.num_perm, o.threshold);
  if (o.rows == 0) return {o.bands, o.num_perm / o.bands};
  if (o.bands == 0) return {o.num_perm / o.rows, o.rows};
  return {o.bands, o.rows};
}

namespace {

void validate(const DedupOptions& o) {
  if (o.inputs.empty()) throw usage_error("dedup: --input is required (a JSONL file, or -)");
  if (o.output.empty()) throw usage_error("dedup: --output is required (a JSONL file, or -)");
  validate_minhash_options(o);
  if (!o.report.empty() && o.report == o.output) {
    throw usage_error("dedup: --report and --output must be different files");
  }
  if (o.embed_model.empty()) return;
  if (o.base_urls.empty()) throw usage_error("dedup: --embed-model needs a base URL");
  check_base_urls(o.base_urls, "dedup: ");
  if (!(o.cosine > -1 && o.cosine <= 1)) {
    throw usage_error("dedup: --cosine must be within (-1, 1]");
  }
  if (o.concurrency < 1) throw usage_error("dedup: --concurrency must be at least 1");
  if (o.batch < 1) throw usage_error("dedup: --batch must be at least 1");
  if (o.max_retries < 0) throw usage_error("dedup: --max-retries must be at least 0");
}

// Stage 3: fetch the embeddings of the records stages 1 and 2 kept, then decide in input order.
void semantic_stage(const DedupOptions& options, const InputFiles& input, DedupDecisions& decisions,
                    DedupStats& stats) {
  const std::vector<uint64_t>& lines = decisions.kept_lines;
  decisions.semantic_drop.assign(lines.size(), false);
  if (lines.empty()) return;
  if (options.output == "-") {
    spdlog::warn("dedup: with --output - the embeddings are not cached; a rerun fetches them all");
  }
  const std::string cache_path = options.output == "-" ? make_temp_path("personagen-embeddings")
                                                       : options.output + ".embeddings";
  EmbeddingCache cache(cache_path);
  std::unique_ptr<TempFileRemover> remover;
  if (options.output == "-") remover = std::make_unique<TempFileRemover>(cache_path);
  if (cache.dropped_bytes() > 0) {
    spdlog::warn("{}: dropped {} bytes of a torn last record", cache_path, cache.dropped_bytes());
  }

  // Fetch: the texts of the kept records, in input order.
  std::vector<EmbeddingKey> keys;
  keys.reserve(lines.size());
  {
    ReaderOptions reader_options;
    reader_options.persona_fields = {options.field};
    RecordReader reader(input.paths(), reader_options);
    size_t next = 0;
    auto next_text = [&](std::string& text) {
      while (next < lines.size()) {
        std::optional<InputRecord> record = reader.next();
        if (!record) break;
        if (record->line != lines[next]) continue;
        ++next;
        text = std::move(record->persona);
        keys.push_back(embedding_key(options.embed_model, text));
        return true;
      }
      return false;
    };
    EmbeddingService service;
    service.base_urls = options.base_urls;
    service.api_key = options.api_key;
    service.model = options.embed_model;
    service.concurrency = options.concurrency;
    service.batch = options.batch;
    service.timeout_seconds = options.timeout_seconds;
    service.max_retries = options.max_retries;
    service.seed = options.seed;
    SignalGuard signals;
    EmbeddingFetchStats fetched = fetch_embeddings(service, next_text, cache, signals.level());
    stats.embeddings_fetched = fetched.fetched;
    stats.embeddings_cached = fetched.cached;
    spdlog::info("dedup: {} embeddings fetched in {} requests ({} retries), {} from {}",
                 fetched.fetched, fetched.requests, fetched.retries, fetched.cached, cache_path);
  }
  if (keys.size() != lines.size()) {
    throw Error(input.name() + ": the input changed while dedup read it");
  }

  // Decide, in input order, against the records kept so far.
  std::optional<EmbeddingIndex> index;
  std::vector<float> vector;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!cache.get(keys[i], vector)) {
      throw Error(cache_path + ": the embedding of line " + std::to_string(lines[i]) +
                  " is missing");
    }
    if (!index) index.emplace(vector.size(), lines.size(), options.seed);
    if (vector.size() != index->dimension()) {
      throw Error("dedup: the embedding of line " + std::to_string(lines[i]) + " has " +
                  std::to_string(vector.size()) + " dimensions, the first had " +
                  std::to_string(index->dimension()));
    }
    normalize_vector(vector.data(), vector.size());
    std::optional<EmbeddingIndex::Neighbour> nearest = index->nearest(vector.data());
    if (nearest && nearest->cosine >= options.cosine) {
      decisions.semantic_drop[i] = true;
      decisions.drops.push_back({lines[i], lines[nearest->label],
                                 static_cast<double>(nearest->cosine), DedupStage::semantic});
      ++stats.semantic_dropped;
    } else {
      index->add(vector.data(), i);
    }
  }
}

// The last pass: copies the kept lines as they are and writes the report in input order.
void write_results(const DedupOptions& options, const InputFiles& input,
                   const DedupDecisions& decisions) {
  OutputFile output(options.output);
  std::unique_ptr<OutputFile> report;
  std::unique_ptr<RecordReader> texts;  // the dropped records' texts, for the report
  if (!options.report.empty()) {
    report = std::make_unique<OutputFile>(options.report);
    ReaderOptions reader_options;
    reader_options.persona_fields = {options.field};
    texts = std::make_unique<RecordReader>(input.paths(), reader_options);
  }

  RawLineReader raw(input.paths());
  size_t next_kept = 0;
  size_t next_drop = 0;
  std::string line;
  std::string report_line;
  const std::vector<uint64_t>& kept = decisions.kept_lines;
  for (uint64_t number = 1;; ++number) {
    const bool keep =
        next_kept < kept.size() && kept[next_kept] == number && !decisions.semantic_drop[next_kept];
    if (next_kept < kept.size() && kept[next_kept] == number) ++next_kept;
    if (!raw.next(keep ? &line : nullptr)) break;
    if (keep) {
      line += '\n';
      output.write(line);
    }
    if (next_drop < decisions.drops.size() && decisions.drops[next_drop].line == number) {
      const DroppedRecord& drop = decisions.drops[next_drop++];
      if (!report) continue;
      std::optional<InputRecord> record;
      do {
        record = texts->next();
      } while (record && record->line < number);
      if (!record || record->line != number) {
        throw Error(input.name() + ": the input changed while dedup read it");
      }
      report_line.clear();
      append_report_line(report_line, drop, record->persona);
      report->write(report_line);
    }
  }
  if (next_kept < kept.size() || next_drop < decisions.drops.size()) {
    throw Error(input.name() + ": the input changed while dedup read it");
  }
  // From here on the results are complete: make them visible.
  if (report) report->commit();
  output.commit();
}

// Half the machine, unless --memory says otherwise; 4 GiB if the machine does not say.
size_t memory_budget(const DedupOptions& options) {
  if (options.memory_bytes > 0) return options.memory_bytes;
  const size_t physical = physical_memory_bytes();
  return physical > 0 ? physical / 2 : size_t{4} << 30;
}

DedupStats go_on_out_of_core(const DedupOptions& options, const InputFiles& input, LshBands lsh,
                             size_t memory, const IndexOutgrewMemory& outgrown,
                             std::chrono::steady_clock::time_point start) {
  const std::string why = "dedup: the index held " + format_byte_size(outgrown.bytes) + " after " +
                          std::to_string(outgrown.records) +
                          " records, past its share of --memory " + format_byte_size(memory);
  if (!options.embed_model.empty()) {
    throw Error(why + "; --embed-model needs the in-memory mode: give it more --memory");
  }
  spdlog::warn("{}: going on out of core, with sorted runs in {}", why,
               options.tmp.empty() ? "$TMPDIR" : options.tmp);
  DedupOptions from_files = options;
  from_files.inputs = input.paths();  // standard input was copied to a file already
  // The in-memory pass warned of the rejected lines it read: counted again, not warned again.
  DedupStats stats =
      run_dedup_out_of_core(from_files, memory, options.tmp, nullptr, outgrown.records);
  stats.bands = lsh.bands;
  stats.rows = lsh.rows;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace

DedupStats run_dedup(const DedupOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  validate(options);
  const LshBands lsh = dedup_banding(options);
  DedupStats stats;
  stats.bands = lsh.bands;
  stats.rows = lsh.rows;
  spdlog::info("dedup: {} bands of {} rows catch pairs at Jaccard {} with probability {:.4f}",
               lsh.bands, lsh.rows, options.threshold,
               lsh_catch_probability(options.threshold, lsh));

  // The input is read more than once, so standard input is copied to a temporary file first.
  const InputFiles input(options.inputs);

  const size_t memory = memory_budget(options);
  DedupDecisions decisions;
  try {
    run_syntactic_stages(input, options, lsh, memory, decisions, stats);
  } catch (const IndexOutgrewMemory& outgrown) {
    decisions = DedupDecisions();  // the out-of-core run needs the memory
    return go_on_out_of_core(options, input, lsh, memory, outgrown, start);
  }
  if (!options.embed_model.empty()) {
    semantic_stage(options, input, decisions, stats);
    std::sort(decisions.drops.begin(), decisions.drops.end(),
              [](const DroppedRecord& a, const DroppedRecord& b) { return a.line < b.line; });
  } else {
    decisions.semantic_drop.assign(decisions.kept_lines.size(), false);
  }
  stats.kept = decisions.kept_lines.size() - stats.semantic_dropped;
  write_results(options, input, decisions);

  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace personagen
