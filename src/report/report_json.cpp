#include <nlohmann/json.hpp>

#include "report/report_writers.h"

// The JSON report: every figure, in the schema documented in docs/report-json.md. ordered_json
// keeps the keys in the order written here, so the text is stable from run to run and a diff of
// two reports lines up. The documentation test (tests/report/report_writers_test.cpp) checks
// that every key written here is documented and every documented key is written.

namespace personagen {

namespace {

using Json = nlohmann::ordered_json;

Json estimate(const Estimate& e) {
  return Json{
      {"value", e.value},
      {"error", e.exact ? 0.0 : e.error},
      {"exact", e.exact},
      {"method", e.method.empty() ? std::string(e.exact ? "exact" : "estimate") : e.method}};
}

Json histogram(const Histogram& h) {
  return Json{{"edges", h.edges}, {"counts", h.counts}};
}

template <typename Counts>
Json counts(const Counts& map) {
  Json out = Json::object();
  for (const auto& [key, n] : map) {
    if constexpr (std::is_same_v<typename Counts::key_type, std::string>) {
      out[key] = n;
    } else {
      out[std::to_string(key)] = n;
    }
  }
  return out;
}

Json top(const std::vector<TopEntry>& entries) {
  Json out = Json::array();
  for (const TopEntry& e : entries) {
    out.push_back(Json{{"key", e.key}, {"count", e.count}, {"share", e.share}, {"error", e.error}});
  }
  return out;
}

template <typename T>
Json optional(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

// An undefined estimate (a share of nothing) is null, as an undefined number is.
Json optional(const std::optional<Estimate>& e) {
  return e ? estimate(*e) : Json(nullptr);
}

Json run(const RunFigures& r) {
  return Json{{"records", r.records},
              {"failures", r.failures},
              {"rejects", r.rejects},
              {"unverified", r.unverified},
              {"below_threshold", r.below_threshold},
              {"bad_lines", r.bad_lines},
              {"finish_reasons", counts(r.finish_reasons)},
              {"attempts", counts(r.attempts)},
              {"tasks", counts(r.tasks)},
              {"prompt_tokens", r.prompt_tokens},
              {"completion_tokens", r.completion_tokens},
              {"billed_prompt_tokens", optional(r.billed_prompt_tokens)},
              {"billed_completion_tokens", optional(r.billed_completion_tokens)},
              {"cost_usd", optional(r.cost_usd)}};
}

Json length(const Distribution& d) {
  return Json{{"unit", "words"},          {"count", d.count},
              {"mean", optional(d.mean)}, {"min", optional(d.min)},
              {"p10", optional(d.p10)},   {"p50", optional(d.p50)},
              {"p90", optional(d.p90)},   {"p99", optional(d.p99)},
              {"max", optional(d.max)},   {"histogram", histogram(d.histogram)}};
}

Json diversity(const DiversityFigures& d) {
  return Json{{"distinct_1", optional(d.distinct[0])},
              {"distinct_2", optional(d.distinct[1])},
              {"distinct_3", optional(d.distinct[2])},
              {"near_dup_90", optional(d.near_dup_90)},
              {"near_dup_70", optional(d.near_dup_70)},
              {"dup_sample", d.dup_sample},
              {"openings", top(d.openings)},
              {"personas", estimate(d.personas)},
              {"outputs_per_persona", optional(d.outputs_per_persona)}};
}

Json task(const TaskFigures& t) {
  Json solve = nullptr, judge = nullptr;
  if (t.solve) {
    solve = Json{{"records", t.solve->records},
                 {"agreement_rate", t.solve->agreement_rate},
                 {"votes", counts(t.solve->votes)}};
  }
  if (t.judge) {
    Json scores = Json::object();
    for (const auto& [criterion, h] : t.judge->scores) scores[criterion] = histogram(h);
    judge = Json{{"records", t.judge->records},
                 {"mean_overall", optional(t.judge->mean_overall)},
                 {"scores", scores}};
  }
  return Json{{"solve", solve}, {"judge", judge}, {"names", top(t.names)}, {"keys", top(t.keys)}};
}

Json similarity(const std::optional<SimilarityFigures>& s) {
  if (!s) return nullptr;
  Json bins = Json::array();
  for (const SimilarityBin& b : s->bins) {
    bins.push_back(Json{{"persona_low", b.persona_low},
                        {"persona_high", b.persona_high},
                        {"pairs", b.pairs},
                        {"mean_output", b.mean_output}});
  }
  return Json{{"model", s->model},
              {"sample", s->sample},
              {"pairs", s->pairs},
              {"mean_pairwise_cosine", optional(s->mean_pairwise_cosine)},
              {"bins", bins}};
}

}  // namespace

std::string report_json(std::span<const Figures> datasets) {
  Json list = Json::array();
  for (const Figures& f : datasets) {
    list.push_back(Json{{"label", f.label},
                        {"field", f.field},
                        {"run", run(f.run)},
                        {"length", length(f.words)},
                        {"diversity", diversity(f.diversity)},
                        {"task", task(f.task)},
                        {"similarity", similarity(f.similarity)}});
  }
  const Json report{{"schema", "personagen.report/1"}, {"datasets", list}};
  // Text from the data may hold invalid UTF-8: replace it rather than throw.
  return report.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace personagen
