#include "net/batch_results.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "personagen/error.h"
#include "util/file_io.h"
#include "util/json_text.h"

namespace personagen {

namespace {

// An error that is not a chat completion's, as the body a server would have sent: OpenAI's error
// object shape, so that error_message() reads it like any other error reply. vLLM writes its
// ErrorResponse ({"error": {...}} or, in older versions, {"object": "error", "message": ...}) or
// a plain string.
std::string error_body(simdjson::dom::element error) {
  if (error.is_string()) {
    std::string body = "{\"error\":{\"message\":";
    append_json_string(body, std::string_view(error.get_string().value()));
    return body + "}}";
  }
  if (simdjson::dom::element inner; !error["error"].get(inner)) return simdjson::to_string(error);
  return "{\"error\":" + simdjson::to_string(error) + "}";
}

// "code: message" of a batch's error object, or its text.
std::string error_text(simdjson::dom::element error) {
  if (error.is_string()) return std::string(error.get_string().value());
  std::string_view code, message;
  if (error["code"].get(code)) code = {};
  if (error["message"].get(message)) message = {};
  if (code.empty() && message.empty()) return simdjson::to_string(error);
  if (code.empty()) return std::string(message);
  return std::string(code) + (message.empty() ? "" : ": " + std::string(message));
}

[[noreturn]] void bad_line(std::string_view where, std::string_view what) {
  throw Error(std::string(where) + ": " + std::string(what) +
              " (expected a batch result: {\"custom_id\", \"response\": {\"status_code\", "
              "\"body\"}, \"error\"})");
}

}  // namespace

BatchResult parse_batch_result(std::string_view line, std::string_view where) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (auto code = parser.parse(line.data(), line.size()).get(root))
    bad_line(where, std::string("not a JSON object: ") + simdjson::error_message(code));
  BatchResult result;
  std::string_view custom_id;
  if (root["custom_id"].get(custom_id) || custom_id.empty())
    bad_line(where, "no \"custom_id\" string");
  result.custom_id = std::string(custom_id);

  simdjson::dom::element response, error;
  bool has_response = !root["response"].get(response) && !response.is_null();
  bool has_error = !root["error"].get(error) && !error.is_null();
  if (!has_response) {
    if (!has_error) bad_line(where, "neither \"response\" nor \"error\"");
    result.response.error = TransportError::not_run;
    result.response.error_text = "not run by the batch: " + error_text(error);
    return result;
  }
  simdjson::dom::object reply;
  if (response.get(reply)) bad_line(where, "\"response\" is not an object");
  int64_t status = 200;  // vLLM's default when it leaves the field out
  if (simdjson::dom::element s; !reply["status_code"].get(s) && s.get(status))
    bad_line(where, "\"response.status_code\" is not an integer");
  result.response.status = static_cast<long>(status);
  simdjson::dom::element body;
  bool has_body = !reply["body"].get(body) && !body.is_null();
  if (has_body)
    result.response.body = simdjson::to_string(body);
  else if (has_error)
    result.response.body = error_body(error);
  return result;
}

BatchResults::BatchResults(const std::vector<std::string>& paths) {
  struct Found {
    std::string_view id;
    Entry entry;
  };
  std::vector<Found> found;
  for (const std::string& path : paths) {
    Mapping m{path, nullptr, 0};
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_io_error(path, "cannot open the batch results");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      throw_io_error(path, "cannot examine", err);
    }
    m.size = static_cast<size_t>(st.st_size);
    if (m.size > 0) {
      void* data = ::mmap(nullptr, m.size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (data == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        throw_io_error(path, "cannot map", err);
      }
      ::madvise(data, m.size, MADV_SEQUENTIAL);
      m.data = static_cast<const char*>(data);
    }
    ::close(fd);
    files_.push_back(m);

    uint32_t file = static_cast<uint32_t>(files_.size() - 1);
    uint64_t line = 0;
    for (size_t pos = 0; pos < m.size;) {
      const char* nl = static_cast<const char*>(std::memchr(m.data + pos, '\n', m.size - pos));
      size_t end = nl ? static_cast<size_t>(nl - m.data) : m.size;
      ++line;
      std::string_view text(m.data + pos, end - pos);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      if (text.find_first_not_of(" \t") != std::string_view::npos) {
        BatchResult r = parse_batch_result(text, path + ":" + std::to_string(line));
        // The id's bytes in the mapping, so that the key costs nothing: ids are plain ASCII in
        // practice; one with escapes is found through its decoded text instead.
        size_t at = text.find(r.custom_id);
        if (at == std::string_view::npos)
          throw Error(path + ":" + std::to_string(line) +
                      ": a custom_id with escapes is not supported");
        Entry e;
        e.file = file;
        e.offset = pos;
        e.length = static_cast<uint32_t>(text.size());
        e.line = line;
        e.ok = r.response.error == TransportError::none && r.response.status >= 200 &&
               r.response.status < 300;
        found.push_back({text.substr(at, r.custom_id.size()), e});
      }
      pos = end + 1;
    }
    if (m.size > 0) ::madvise(const_cast<char*>(m.data), m.size, MADV_RANDOM);
  }
  index_.reserve(found.size());
  for (const Found& f : found) {
    auto [it, fresh] = index_.try_emplace(f.id, f.entry);
    if (!fresh && f.entry.ok && !it->second.ok) it->second = f.entry;
  }
}

BatchResults::~BatchResults() {
  for (const Mapping& m : files_)
    if (m.data) ::munmap(const_cast<char*>(m.data), m.size);
}

std::string_view BatchResults::line_of(const Entry& e) const {
  return std::string_view(files_[e.file].data + e.offset, e.length);
}

std::optional<HttpResponse> BatchResults::find(std::string_view custom_id) const {
  auto it = index_.find(custom_id);
  if (it == index_.end()) return std::nullopt;
  const Entry& e = it->second;
  return parse_batch_result(line_of(e), files_[e.file].path + ":" + std::to_string(e.line))
      .response;
}

void BatchResults::mark_known(std::string_view custom_id) {
  auto it = index_.find(custom_id);
  if (it != index_.end()) it->second.known = true;
}

std::string BatchResults::first_unknown() const {
  const Entry* first = nullptr;
  std::string_view first_id;
  for (const auto& [id, e] : index_) {
    if (e.known) continue;
    if (!first || e.file < first->file || (e.file == first->file && e.line < first->line)) {
      first = &e;
      first_id = id;
    }
  }
  if (!first) return {};
  return files_[first->file].path + ":" + std::to_string(first->line) + ": custom_id \"" +
         std::string(first_id) + "\" is not a request of this export";
}

void ResultsTransport::start(HttpRequest request) {
  std::optional<HttpResponse> found = results_.find(request.key);
  HttpResponse response;
  if (found) {
    response = std::move(*found);
  } else {
    response.error = TransportError::not_run;
    response.error_text = "no result for this request in the batch results given";
  }
  response.tag = request.tag;
  ready_.push_back(std::move(response));
}

void ResultsTransport::wait(int, std::vector<HttpResponse>& finished) {
  while (!ready_.empty()) {
    finished.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
}

}  // namespace personagen
