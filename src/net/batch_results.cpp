#include "net/batch_results.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "personagen/error.h"
#include "util/file_io.h"
#include "util/hash.h"
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

// The common case, a success, read on demand: the body's bytes are taken as they are, not
// parsed into a tree and written out again (the chat completion is parsed once, later, by the
// run's judge). Anything else (an error, a line with something wrong) is left to the full parse,
// which also says what is wrong. Bench issue 12: a second full parse and re-serialising each
// body were a third of an import's time.
bool parse_success(std::string_view line, BatchResult& result) {
  thread_local simdjson::ondemand::parser parser;
  thread_local std::string padded;
  padded.assign(line);
  padded.append(simdjson::SIMDJSON_PADDING, ' ');
  simdjson::ondemand::document doc;
  if (parser.iterate(simdjson::padded_string_view(padded.data(), line.size(), padded.size()))
          .get(doc))
    return false;
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) return false;
  std::string_view custom_id, body;
  int64_t status = 200;
  bool error_null = true;
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    if (key == "custom_id") {
      if (field.value().get_string().get(custom_id)) return false;
    } else if (key == "response") {
      simdjson::ondemand::object response;
      if (field.value().get_object().get(response)) return false;
      for (auto member : response) {
        std::string_view name;
        if (member.unescaped_key().get(name)) return false;
        if (name == "status_code") {
          if (member.value().get_int64().get(status)) return false;
        } else if (name == "body") {
          simdjson::ondemand::object object;
          if (member.value().get_object().get(object) || object.raw_json().get(body)) return false;
        }
      }
    } else if (key == "error") {
      bool is_null = false;
      if (field.value().is_null().get(is_null)) return false;
      error_null = is_null;
    }
  }
  if (custom_id.empty() || body.empty() || !error_null || status < 200 || status >= 300)
    return false;
  result.custom_id = std::string(custom_id);
  result.response.status = static_cast<long>(status);
  result.response.body = std::string(body);
  return true;
}

}  // namespace

BatchResult parse_batch_result(std::string_view line, std::string_view where) {
  if (BatchResult result; parse_success(line, result)) return result;
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
  std::string buffer(1 << 20, '\0');
  std::string carry;
  for (const std::string& path : paths) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_io_error(path, "cannot open the batch results");
    files_.push_back({path, fd, {}});
    uint32_t file = static_cast<uint32_t>(files_.size() - 1);
    uint64_t line = 0;
    uint64_t carry_offset = 0;  // of carry's first byte in the file
    carry.clear();
    for (bool eof = false; !eof;) {
      ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_io_error(path, "cannot read");
      }
      eof = n == 0;
      carry.append(buffer.data(), static_cast<size_t>(n));
      size_t begin = 0;
      for (;;) {
        size_t nl = carry.find('\n', begin);
        if (nl == std::string::npos && !(eof && begin < carry.size())) break;
        size_t end = nl == std::string::npos ? carry.size() : nl;
        ++line;
        std::string_view text(carry.data() + begin, end - begin);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        if (text.find_first_not_of(" \t") != std::string_view::npos) {
          BatchResult r = parse_batch_result(text, path + ":" + std::to_string(line));
          Entry e;
          e.hash = hash64(r.custom_id);
          e.offset = carry_offset + begin;
          e.length = static_cast<uint32_t>(text.size());
          e.file = file;
          e.ok = r.response.error == TransportError::none && r.response.status >= 200 &&
                 r.response.status < 300;
          index_.push_back(e);
        }
        begin = end + 1;
        if (nl == std::string::npos) break;
      }
      begin = std::min(begin, carry.size());
      carry.erase(0, begin);
      carry_offset += begin;
    }
    files_.back().map = MappedFile(fd, carry_offset + carry.size(), path);
  }
  // Sorted by hash, then in file order; of the results for one custom_id only the first success
  // (else the first) stays.
  // In place (stable_sort would take a buffer as large as the index), in file order within a hash.
  std::sort(index_.begin(), index_.end(), [](const Entry& a, const Entry& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return a.file != b.file ? a.file < b.file : a.offset < b.offset;
  });
  // Compacted in place: a second vector would double the index's memory at its peak.
  size_t kept = 0;
  for (size_t i = 0; i < index_.size();) {
    size_t j = i;
    while (j < index_.size() && index_[j].hash == index_[i].hash) ++j;
    if (j == i + 1) {
      index_[kept++] = index_[i];
    } else {
      // Several results with this hash: the same custom_id (a file given twice, a resubmitted
      // request), or, rarely, different ones.
      std::vector<std::pair<std::string, Entry>> ids;
      for (size_t k = i; k < j; ++k) {
        std::string id = parse(index_[k]).custom_id;
        auto same = std::find_if(ids.begin(), ids.end(), [&](auto& p) { return p.first == id; });
        if (same == ids.end())
          ids.emplace_back(std::move(id), index_[k]);
        else if (index_[k].ok && !same->second.ok)
          same->second = index_[k];
      }
      for (auto& p : ids) index_[kept++] = p.second;
    }
    i = j;
  }
  index_.resize(kept);
  index_.shrink_to_fit();
}

BatchResults::~BatchResults() {
  for (const File& f : files_) ::close(f.fd);
}

std::string_view BatchResults::read_line(const Entry& e, std::string& buffer) const {
  const std::string_view mapped = files_[e.file].map.bytes();
  if (e.offset + e.length <= mapped.size()) return mapped.substr(e.offset, e.length);
  buffer.resize(e.length);
  size_t done = 0;
  while (done < e.length) {
    ssize_t n = ::pread(files_[e.file].fd, buffer.data() + done, e.length - done,
                        static_cast<off_t>(e.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_io_error(files_[e.file].path, "cannot read the batch results again");
    done += static_cast<size_t>(n);
  }
  return buffer;
}

std::string BatchResults::where(const Entry& e) const {
  return files_[e.file].path + " at byte " + std::to_string(e.offset);
}

BatchResult BatchResults::parse(const Entry& e) const {
  thread_local std::string buffer;
  return parse_batch_result(read_line(e, buffer), where(e));
}

std::optional<HttpResponse> BatchResults::find(std::string_view custom_id) const {
  uint64_t hash = hash64(custom_id);
  auto it = std::lower_bound(index_.begin(), index_.end(), hash,
                             [](const Entry& e, uint64_t h) { return e.hash < h; });
  for (; it != index_.end() && it->hash == hash; ++it) {
    BatchResult r = parse(*it);
    if (r.custom_id == custom_id) return std::move(r.response);
  }
  return std::nullopt;
}

void BatchResults::mark_known(std::string_view custom_id) {
  uint64_t hash = hash64(custom_id);
  auto it = std::lower_bound(index_.begin(), index_.end(), hash,
                             [](const Entry& e, uint64_t h) { return e.hash < h; });
  for (; it != index_.end() && it->hash == hash; ++it) it->known = 1;
}

std::string BatchResults::first_unknown() const {
  const Entry* first = nullptr;
  for (const Entry& e : index_) {
    if (e.known) continue;
    if (!first || e.file < first->file || (e.file == first->file && e.offset < first->offset))
      first = &e;
  }
  if (!first) return {};
  // The line number, counted only for the message.
  uint64_t line = 1;
  std::string buffer(1 << 16, '\0');
  for (uint64_t at = 0; at < first->offset;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), first->offset - at));
    ssize_t n = ::pread(files_[first->file].fd, buffer.data(), want, static_cast<off_t>(at));
    if (n <= 0) break;
    line += static_cast<uint64_t>(std::count(buffer.begin(), buffer.begin() + n, '\n'));
    at += static_cast<uint64_t>(n);
  }
  return files_[first->file].path + ":" + std::to_string(line) + ": custom_id \"" +
         parse(*first).custom_id + "\" is not a request of this export";
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
