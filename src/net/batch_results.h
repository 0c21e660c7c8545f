#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "personagen/http_transport.h"

namespace personagen {

// One line of a batch's output or error file, in the format of OpenAI's Batch API, which vLLM's
// run_batch writes too: {"id", "custom_id", "response": {"status_code", "request_id", "body"},
// "error"}. `response` is the HTTP reply the request would have had when sent on its own: a
// status and its body (a chat completion, or an error object). A request the batch never ran
// (expired, cancelled: "response": null and an "error" object) is a TransportError::not_run.
struct BatchResult {
  std::string custom_id;
  HttpResponse response;
};

// Parses one line. `where` ("file:line") starts the one-line Error thrown for a line that is not
// a batch result, naming what was expected.
BatchResult parse_batch_result(std::string_view line, std::string_view where);

// The result files of an import, indexed by custom_id. The files are mapped, not read into
// memory, and the index holds a few dozen bytes per result, so the memory is bounded by the
// results given, never by the input they answer.
class BatchResults {
 public:
  // Maps and indexes every line of `paths` (blank lines skipped). Throws Error naming the file and
  // line of one that is not a batch result. A custom_id given more than once keeps one result:
  // a success over a failure (a retried request's later result over its expired one), else the
  // first.
  explicit BatchResults(const std::vector<std::string>& paths);
  ~BatchResults();
  BatchResults(const BatchResults&) = delete;
  BatchResults& operator=(const BatchResults&) = delete;

  size_t size() const { return index_.size(); }
  // The result for `custom_id`, parsed again from its line; nullopt if there is none.
  std::optional<HttpResponse> find(std::string_view custom_id) const;
  // Marks a custom_id as one of the export's requests.
  void mark_known(std::string_view custom_id);
  // "file:line: ..." for the first result (in file order) whose custom_id was never marked
  // known; empty when every result is one of the export's requests.
  std::string first_unknown() const;

 private:
  struct Entry {
    uint32_t file = 0;
    uint32_t length = 0;
    uint64_t offset = 0;
    uint64_t line = 0;
    bool ok = false;  // a 2xx response
    bool known = false;
  };
  struct Mapping {
    std::string path;
    const char* data = nullptr;
    size_t size = 0;
  };
  std::string_view line_of(const Entry& e) const;

  std::vector<Mapping> files_;
  // Keys are views into the mapped files: a custom_id is never copied.
  std::unordered_map<std::string_view, Entry> index_;
};

// A Transport that answers every request from a batch's results, by its custom_id
// (HttpRequest::key), at once; a request without a result is not_run. It sends nothing, so a
// request pool drives an import exactly as it drives a run: the same judging, records and
// failures.
class ResultsTransport final : public Transport {
 public:
  explicit ResultsTransport(const BatchResults& results) : results_(results) {}
  void start(HttpRequest request) override;
  void wait(int timeout_ms, std::vector<HttpResponse>& finished) override;
  size_t in_flight() const override { return ready_.size(); }

 private:
  const BatchResults& results_;
  std::deque<HttpResponse> ready_;
};

}  // namespace personagen
