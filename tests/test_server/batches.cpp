#include "batches.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include "stable_hash.h"

namespace personagen::testing::detail {

namespace {

constexpr const char* kEndpoint = "/v1/chat/completions";
constexpr size_t kDefaultListLimit = 20;
constexpr size_t kMaxListLimit = 100;

void reply_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(error_body(message, "invalid_request_error", status), kJsonType);
}

// The number n of an id "<prefix><n>", written as to_string writes it, or nullopt.
std::optional<size_t> number_of(std::string_view id, std::string_view prefix) {
  if (!id.starts_with(prefix)) return std::nullopt;
  std::string_view digits = id.substr(prefix.size());
  size_t n = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (std::to_string(n) != digits) return std::nullopt;  // no "007"
  return n;
}

// The lines in an order that is a function of the seed and the batch id alone (Fisher-Yates
// over splitmix64, whose output, unlike std::shuffle's, no library version changes), so a
// client that relies on input order fails every run, reproducibly.
void shuffle(std::vector<std::string>& lines, uint64_t seed, const std::string& batch_id) {
  uint64_t state = splitmix64(seed ^ fnv1a(batch_id));
  for (size_t i = lines.size(); i > 1; --i) {
    state = splitmix64(state);
    std::swap(lines[i - 1], lines[state % i]);
  }
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

}  // namespace

Batches::Batches(BatchOptions options, RunLine run_line)
    : options_(options), run_line_(std::move(run_line)) {}

Batches::~Batches() {
  stop();
}

void Batches::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    workers.swap(workers_);
  }
  for (std::thread& worker : workers) worker.join();
}

void Batches::route(httplib::Server& server, const Guard& guard) {
  auto handler = [this](void (Batches::*on)(const httplib::Request&, httplib::Response&)) {
    return
        [this, on](const httplib::Request& req, httplib::Response& res) { (this->*on)(req, res); };
  };
  server.Post("/v1/files", guard(handler(&Batches::on_upload)));
  server.Get("/v1/files", guard(handler(&Batches::on_list_files)));
  server.Get(R"(/v1/files/([^/]+))", guard(handler(&Batches::on_get_file)));
  server.Get(R"(/v1/files/([^/]+)/content)", guard(handler(&Batches::on_file_content)));
  server.Post("/v1/batches", guard(handler(&Batches::on_create)));
  server.Get("/v1/batches", guard(handler(&Batches::on_list)));
  server.Get(R"(/v1/batches/([^/]+))", guard(handler(&Batches::on_get)));
  server.Post(R"(/v1/batches/([^/]+)/cancel)", guard(handler(&Batches::on_cancel)));
}

std::string Batches::add_file(std::string filename, std::string purpose, std::string content) {
  StoredFile& file = files_.emplace_back();
  file.id = "file-" + std::to_string(files_.size() - 1);
  file.filename = std::move(filename);
  file.purpose = std::move(purpose);
  file.bytes = content.size();
  file.content = std::move(content);
  file.created_at = std::time(nullptr);
  return file.id;
}

Batches::StoredFile* Batches::find_file(std::string_view id) {
  std::optional<size_t> n = number_of(id, "file-");
  return n && *n < files_.size() ? &files_[*n] : nullptr;
}

Batches::Batch* Batches::find_batch(std::string_view id) {
  std::optional<size_t> n = number_of(id, "batch_");
  return n && *n < batches_.size() ? &batches_[*n] : nullptr;
}

void Batches::on_upload(const httplib::Request& req, httplib::Response& res) {
  if (!req.is_multipart_form_data()) {
    return reply_error(res, 400, "files: the body must be multipart/form-data");
  }
  if (!req.has_file("purpose")) return reply_error(res, 400, "files: missing field 'purpose'");
  std::string purpose = req.get_file_value("purpose").content;
  if (purpose != "batch") {
    return reply_error(res, 400, "files: purpose must be 'batch', not '" + purpose + "'");
  }
  if (!req.has_file("file")) return reply_error(res, 400, "files: missing field 'file'");
  httplib::MultipartFormData file = req.get_file_value("file");
  if (file.filename.empty()) return reply_error(res, 400, "files: 'file' has no filename");
  std::lock_guard lock(mutex_);
  uploaded_filenames_.push_back(file.filename);
  std::string id = add_file(file.filename, purpose, std::move(file.content));
  res.set_content(file_json(*find_file(id)), kJsonType);
}

void Batches::on_list_files(const httplib::Request&, httplib::Response& res) {
  std::lock_guard lock(mutex_);
  res.set_content(file_list_json(std::vector<FileObject>(files_.rbegin(), files_.rend())),
                  kJsonType);
}

void Batches::on_get_file(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(mutex_);
  const StoredFile* file = find_file(req.matches[1].str());
  if (file == nullptr) return reply_error(res, 404, "No such File object: " + req.matches[1].str());
  res.set_content(file_json(*file), kJsonType);
}

void Batches::on_file_content(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(mutex_);
  const StoredFile* file = find_file(req.matches[1].str());
  if (file == nullptr) return reply_error(res, 404, "No such File object: " + req.matches[1].str());
  res.set_content(file->content, "application/octet-stream");
}

void Batches::on_create(const httplib::Request& req, httplib::Response& res) {
  std::string error;
  std::optional<BatchCreate> create = parse_batch_create(req.body, error);
  if (!create) return reply_error(res, 400, error);
  if (create->endpoint != kEndpoint) {
    return reply_error(res, 400, std::string("batches: endpoint must be ") + kEndpoint);
  }
  if (create->completion_window != "24h") {
    return reply_error(res, 400, "batches: completion_window must be 24h");
  }
  std::lock_guard lock(mutex_);
  const StoredFile* file = find_file(create->input_file_id);
  if (file == nullptr)
    return reply_error(res, 404, "No such File object: " + create->input_file_id);
  if (file->purpose != "batch") {
    return reply_error(res, 400, "batches: the input file's purpose must be 'batch'");
  }
  if (stopping_) return reply_error(res, 503, "test server is stopping");
  Batch& batch = batches_.emplace_back();
  batch.id = "batch_" + std::to_string(batches_.size() - 1);
  batch.endpoint = kEndpoint;
  batch.input_file_id = file->id;
  batch.completion_window = "24h";
  batch.metadata = create->metadata;
  batch.created_at = std::time(nullptr);
  batch.expires = options_.expire_after >= 0 &&
                  batches_.size() <= static_cast<size_t>(std::max(options_.expire_batches, 0));
  workers_.emplace_back([this, index = batches_.size() - 1] { run(index); });
  res.set_content(batch_json(batch), kJsonType);
}

void Batches::on_list(const httplib::Request& req, httplib::Response& res) {
  size_t limit = kDefaultListLimit;
  if (req.has_param("limit")) {
    std::string text = req.get_param_value("limit");
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (error != std::errc() || end != text.data() + text.size() || limit < 1 ||
        limit > kMaxListLimit) {
      return reply_error(res, 400, "batches: limit must be 1..100");
    }
  }
  std::lock_guard lock(mutex_);
  size_t next = batches_.size();  // the list runs from batch next - 1 down, newest first
  if (req.has_param("after")) {
    std::string after = req.get_param_value("after");
    std::optional<size_t> n = number_of(after, "batch_");
    if (!n || *n >= batches_.size()) {
      return reply_error(res, 400, "batches: no batch " + after + " (after)");
    }
    next = *n;
  }
  std::vector<const BatchObject*> page;
  for (; next > 0 && page.size() < limit; --next) page.push_back(&batches_[next - 1]);
  res.set_content(batch_list_json(page, next > 0), kJsonType);
}

void Batches::on_get(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(mutex_);
  const Batch* batch = find_batch(req.matches[1].str());
  if (batch == nullptr) return reply_error(res, 404, "No such Batch: " + req.matches[1].str());
  ++polls_;
  res.set_content(batch_json(*batch), kJsonType);
}

void Batches::on_cancel(const httplib::Request& req, httplib::Response& res) {
  std::unique_lock lock(mutex_);
  Batch* batch = find_batch(req.matches[1].str());
  if (batch == nullptr) return reply_error(res, 404, "No such Batch: " + req.matches[1].str());
  ++cancels_;
  if (batch->status == "validating" || batch->status == "in_progress") {
    batch->status = "cancelling";
    batch->cancelling_at = std::time(nullptr);
  }
  res.set_content(batch_json(*batch), kJsonType);
  lock.unlock();
  changed_.notify_all();
}

bool Batches::pause(std::unique_lock<std::mutex>& lock, const Batch& batch,
                    std::chrono::milliseconds duration) {
  if (duration.count() > 0) {
    changed_.wait_for(lock, duration, [&] { return stopping_ || batch.status == "cancelling"; });
  }
  return !stopping_;
}

void Batches::run(size_t index) {
  std::unique_lock lock(mutex_);
  Batch& batch = batches_[index];
  auto set_status = [&](std::string status, std::optional<std::time_t>& at) {
    batch.status = std::move(status);
    at = std::time(nullptr);
    changed_.notify_all();
  };
  // Half the delay validating, half in progress with nothing done: a client polls through both.
  if (!pause(lock, batch, std::chrono::milliseconds(options_.delay_ms / 2))) return;
  if (batch.status == "cancelling") return set_status("cancelled", batch.cancelled_at);

  std::string content = find_file(batch.input_file_id)->content;
  lock.unlock();
  std::vector<BatchLineError> errors;
  std::vector<BatchInputLine> lines = parse_batch_input(content, batch.endpoint, errors);
  if (options_.fail_validation) {
    errors = {{"invalid_request", "test server: injected validation failure", 1}};
  }
  lock.lock();
  if (!errors.empty()) {
    batch.errors = std::move(errors);
    return set_status("failed", batch.failed_at);
  }
  batch.total = lines.size();
  if (batch.status != "cancelling") set_status("in_progress", batch.in_progress_at);
  if (!pause(lock, batch, std::chrono::milliseconds(options_.delay_ms - options_.delay_ms / 2))) {
    return;
  }

  std::vector<std::string> output, error_file;
  size_t ran = 0;
  const auto line_delay = std::chrono::milliseconds(options_.line_delay_ms);
  auto expired = [&] { return batch.expires && ran >= static_cast<size_t>(options_.expire_after); };
  for (; ran < lines.size() && batch.status != "cancelling" && !expired(); ++ran) {
    if (!pause(lock, batch, line_delay)) return;
    if (batch.status == "cancelling") break;
    size_t number = next_request_++;
    line_bodies_.push_back(lines[ran].body);
    lock.unlock();
    LineReply reply = run_line_(lines[ran].body);
    lock.lock();
    if (stopping_) return;
    bool ok = reply.status >= 200 && reply.status < 300;
    ++(ok ? batch.completed : batch.failed);
    (ok ? output : error_file)
        .push_back(batch_result_line(number, lines[ran].custom_id, reply.status, reply.body));
    changed_.notify_all();
  }
  const bool cancelled = batch.status == "cancelling";
  const bool expiring = !cancelled && ran < lines.size();
  for (size_t i = ran; i < lines.size(); ++i) {
    error_file.push_back(batch_unrun_line(next_request_++, lines[i].custom_id,
                                          cancelled ? "batch_cancelled" : "batch_expired"));
  }
  if (!cancelled) set_status("finalizing", batch.finalizing_at);
  lock.unlock();
  shuffle(output, options_.seed, batch.id);
  shuffle(error_file, options_.seed, batch.id);
  lock.lock();
  if (!output.empty()) {
    batch.output_file_id = add_file(batch.id + "_output.jsonl", "batch_output", joined(output));
  }
  if (!error_file.empty()) {
    batch.error_file_id = add_file(batch.id + "_error.jsonl", "batch_output", joined(error_file));
  }
  if (cancelled) return set_status("cancelled", batch.cancelled_at);
  if (expiring) return set_status("expired", batch.expired_at);
  set_status("completed", batch.completed_at);
}

std::vector<std::string> Batches::uploaded_filenames() const {
  std::lock_guard lock(mutex_);
  return uploaded_filenames_;
}

size_t Batches::batches_created() const {
  std::lock_guard lock(mutex_);
  return batches_.size();
}

size_t Batches::batch_cancels() const {
  std::lock_guard lock(mutex_);
  return cancels_;
}

size_t Batches::batch_polls() const {
  std::lock_guard lock(mutex_);
  return polls_;
}

std::vector<std::string> Batches::line_bodies() const {
  std::lock_guard lock(mutex_);
  return line_bodies_;
}

bool Batches::wait_for_status(const std::string& id, const std::string& status,
                              std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    std::optional<size_t> n = number_of(id, "batch_");
    return n && *n < batches_.size() && batches_[*n].status == status;
  });
}

bool Batches::wait_for_lines(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return line_bodies_.size() >= n; });
}

}  // namespace personagen::testing::detail
