#include "report/report_table.h"

#include <algorithm>
#include <functional>
#include <map>

#include "report/report_format.h"

namespace personagen {

namespace {

constexpr const char* kMissing = "-";

using Cell = std::function<std::string(const Figures&)>;

void add_row(ReportSection& section, std::span<const Figures> datasets, std::string name,
             const Cell& cell) {
  ReportRow row{std::move(name), {}};
  for (const Figures& f : datasets) row.cells.push_back(cell(f));
  section.rows.push_back(std::move(row));
}

template <typename Counts>
std::vector<std::pair<std::string, uint64_t>> as_pairs(const Counts& counts) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [key, n] : counts) {
    if constexpr (std::is_same_v<typename Counts::key_type, std::string>) {
      out.emplace_back(key, n);
    } else {
      out.emplace_back(std::to_string(key), n);
    }
  }
  return out;
}

bool any(std::span<const Figures> datasets, const std::function<bool(const Figures&)>& has) {
  return std::any_of(datasets.begin(), datasets.end(), has);
}

std::string optional_count(const std::optional<uint64_t>& n) {
  return n ? with_commas(*n) : kMissing;
}

ReportSection run_section(std::span<const Figures> datasets) {
  ReportSection s{ReportPart::run, "Run", {}};
  add_row(s, datasets, "field", [](const Figures& f) { return f.field; });
  add_row(s, datasets, "records", [](const Figures& f) { return with_commas(f.run.records); });
  add_row(s, datasets, "failures", [](const Figures& f) { return with_commas(f.run.failures); });
  add_row(s, datasets, "rejects", [](const Figures& f) { return with_commas(f.run.rejects); });
  add_row(s, datasets, "unverified",
          [](const Figures& f) { return with_commas(f.run.unverified); });
  add_row(s, datasets, "below threshold",
          [](const Figures& f) { return with_commas(f.run.below_threshold); });
  add_row(s, datasets, "bad lines", [](const Figures& f) { return with_commas(f.run.bad_lines); });
  if (any(datasets, [](const Figures& f) { return !f.run.tasks.empty(); })) {
    add_row(s, datasets, "tasks",
            [](const Figures& f) { return counts_cell(as_pairs(f.run.tasks)); });
  }
  add_row(s, datasets, "finish reasons",
          [](const Figures& f) { return counts_cell(as_pairs(f.run.finish_reasons)); });
  add_row(s, datasets, "attempts", [](const Figures& f) {
    std::string cell;
    for (const auto& [attempts, n] : f.run.attempts) {
      cell += (cell.empty() ? "" : " \xC2\xB7 ") + std::to_string(attempts) + ": " + with_commas(n);
    }
    return cell.empty() ? std::string(kMissing) : cell;
  });
  add_row(s, datasets, "prompt tokens",
          [](const Figures& f) { return with_commas(f.run.prompt_tokens); });
  add_row(s, datasets, "completion tokens",
          [](const Figures& f) { return with_commas(f.run.completion_tokens); });
  if (any(datasets, [](const Figures& f) { return f.run.billed_prompt_tokens.has_value(); })) {
    add_row(s, datasets, "billed prompt tokens",
            [](const Figures& f) { return optional_count(f.run.billed_prompt_tokens); });
    add_row(s, datasets, "billed completion tokens",
            [](const Figures& f) { return optional_count(f.run.billed_completion_tokens); });
  }
  if (any(datasets, [](const Figures& f) { return f.run.cost_usd.has_value(); })) {
    add_row(s, datasets, "cost", [](const Figures& f) {
      return f.run.cost_usd ? format_cost(*f.run.cost_usd) : kMissing;
    });
  }
  return s;
}

ReportSection length_section(std::span<const Figures> datasets) {
  ReportSection s{ReportPart::length, "Length (words per output)", {}};
  add_row(s, datasets, "outputs", [](const Figures& f) { return with_commas(f.words.count); });
  add_row(s, datasets, "mean", [](const Figures& f) { return format_number(f.words.mean, 1); });
  const std::pair<const char*, std::optional<double> Distribution::*> kPoints[] = {
      {"min", &Distribution::min}, {"p10", &Distribution::p10}, {"p50", &Distribution::p50},
      {"p90", &Distribution::p90}, {"p99", &Distribution::p99}, {"max", &Distribution::max}};
  for (const auto& [name, member] : kPoints) {
    add_row(s, datasets, name,
            [member](const Figures& f) { return format_words(f.words.*member); });
  }
  return s;
}

ReportSection diversity_section(std::span<const Figures> datasets) {
  ReportSection s{ReportPart::diversity, "Diversity", {}};
  for (int n = 0; n < 3; ++n) {
    add_row(s, datasets, "distinct-" + std::to_string(n + 1),
            [n](const Figures& f) { return format_estimate(f.diversity.distinct[n], 3); });
  }
  add_row(s, datasets, "near-dup (Jaccard 0.9)",
          [](const Figures& f) { return format_estimate(f.diversity.near_dup_90, 3); });
  add_row(s, datasets, "near-dup (Jaccard 0.7)",
          [](const Figures& f) { return format_estimate(f.diversity.near_dup_70, 3); });
  add_row(s, datasets, "near-dup sample",
          [](const Figures& f) { return with_commas(f.diversity.dup_sample); });
  add_row(s, datasets, "personas covered",
          [](const Figures& f) { return format_estimate(f.diversity.personas, 0); });
  add_row(s, datasets, "outputs per persona",
          [](const Figures& f) { return format_number(f.diversity.outputs_per_persona, 2); });
  return s;
}

ReportSection task_section(std::span<const Figures> datasets) {
  ReportSection s{ReportPart::task, "Task", {}};
  if (any(datasets, [](const Figures& f) { return f.task.solve.has_value(); })) {
    add_row(s, datasets, "solve records", [](const Figures& f) {
      return f.task.solve ? with_commas(f.task.solve->records) : kMissing;
    });
    add_row(s, datasets, "agreement", [](const Figures& f) {
      return f.task.solve ? format_share(f.task.solve->agreement_rate) : kMissing;
    });
    add_row(s, datasets, "votes", [](const Figures& f) {
      return f.task.solve ? counts_cell(as_pairs(f.task.solve->votes)) : kMissing;
    });
  }
  if (any(datasets, [](const Figures& f) { return f.task.judge.has_value(); })) {
    add_row(s, datasets, "judged records", [](const Figures& f) {
      return f.task.judge ? with_commas(f.task.judge->records) : kMissing;
    });
    add_row(s, datasets, "mean overall score", [](const Figures& f) {
      return f.task.judge ? format_number(f.task.judge->mean_overall, 2) : kMissing;
    });
  }
  return s;
}

ReportSection similarity_section(std::span<const Figures> datasets) {
  ReportSection s{ReportPart::similarity, "Similarity (embeddings)", {}};
  add_row(s, datasets, "model",
          [](const Figures& f) { return f.similarity ? f.similarity->model : kMissing; });
  add_row(s, datasets, "records embedded", [](const Figures& f) {
    return f.similarity ? with_commas(f.similarity->sample) : kMissing;
  });
  add_row(s, datasets, "pairs compared", [](const Figures& f) {
    return f.similarity ? with_commas(f.similarity->pairs) : kMissing;
  });
  add_row(s, datasets, "mean output cosine", [](const Figures& f) {
    return f.similarity ? format_number(f.similarity->mean_pairwise_cosine, 3) : kMissing;
  });
  return s;
}

}  // namespace

std::string counts_cell(const std::vector<std::pair<std::string, uint64_t>>& counts) {
  std::vector<std::pair<std::string, uint64_t>> sorted = counts;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string cell;
  for (const auto& [key, n] : sorted) {
    // Keys come from the data: one line each, without control characters (no escape sequences
    // reach the terminal).
    cell += (cell.empty() ? "" : " \xC2\xB7 ") + shorten_text(key, 40) + " " + with_commas(n);
  }
  return cell.empty() ? kMissing : cell;
}

std::vector<ReportSection> report_sections(std::span<const Figures> datasets) {
  std::vector<ReportSection> sections{run_section(datasets), length_section(datasets),
                                      diversity_section(datasets)};
  ReportSection task = task_section(datasets);
  if (!task.rows.empty()) sections.push_back(std::move(task));
  if (any(datasets, [](const Figures& f) { return f.similarity.has_value(); })) {
    sections.push_back(similarity_section(datasets));
  }
  return sections;
}

}  // namespace personagen
