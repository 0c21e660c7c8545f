#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "personagen/http_transport.h"
#include "util/mapped_file.h"

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

// The result files of an import, indexed by custom_id. The index holds 24 bytes per result (the
// custom_id's hash and where its line is); a line is read again when its request asks for it,
// from the file mapped into memory (util/mapped_file.h: a pread per line took much of an
// import's time). So the memory it allocates is bounded by the results given, never by the input
// they answer; the mapped pages are the page cache's, which the kernel may drop at any time.
class BatchResults {
 public:
  // Reads and indexes every line of `paths` (blank lines skipped). Throws Error naming the file
  // and line of one that is not a batch result. A custom_id given more than once keeps one
  // result: a success over a failure (a retried request's later result over its expired one),
  // else the first.
  explicit BatchResults(const std::vector<std::string>& paths);
  ~BatchResults();
  BatchResults(const BatchResults&) = delete;
  BatchResults& operator=(const BatchResults&) = delete;

  size_t size() const { return index_.size(); }
  // The result for `custom_id`, parsed again from its line; nullopt if there is none.
  std::optional<HttpResponse> find(std::string_view custom_id) const;
  // Marks a custom_id as one of the export's requests. By its 64-bit hash: an unknown id would
  // pass only by colliding with an exported one.
  void mark_known(std::string_view custom_id);
  // "file:line: ..." for the first result (in file order) whose custom_id was never marked
  // known; empty when every result is one of the export's requests.
  std::string first_unknown() const;

 private:
  struct Entry {
    uint64_t hash = 0;  // of the custom_id
    uint64_t offset = 0;
    uint32_t length = 0;
    uint32_t file : 30 = 0;
    uint32_t ok : 1 = 0;  // a 2xx response
    uint32_t known : 1 = 0;
  };
  struct File {
    std::string path;
    int fd = -1;
    MappedFile map;  // the bytes indexed
  };
  // The line of `e`, read into `buffer`; its 1-based number is not kept, so errors name the
  // byte offset.
  std::string_view read_line(const Entry& e, std::string& buffer) const;
  std::string where(const Entry& e) const;
  BatchResult parse(const Entry& e) const;

  std::vector<File> files_;
  std::vector<Entry> index_;  // sorted by hash
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
