#include "net/batch_api.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <utility>

#include "net/batch_objects.h"
#include "net/curl_common.h"
#include "net/openai_client.h"
#include "net/retry_policy.h"
#include "personagen/error.h"
#include "personagen/http_transport.h"
#include "util/file_io.h"

namespace personagen {
namespace {

using batch_json::batch_of;
using batch_json::file_of;
using batch_json::list_data;
using batch_json::member;
using batch_json::parse_object;
using batch_json::string_member;
using nlohmann::json;

// Replies read into memory (everything but a download's content) stop here: the largest, a page
// of 100 batch objects, is a few hundred KiB; a server sending more is broken.
constexpr uint64_t kMaxReplyBytes = uint64_t{64} << 20;
// The page size of GET /batches; the most the API allows.
constexpr size_t kBatchPageSize = 100;

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// Which failures a call may be sent again after.
enum class RetryWhen {
  any,     // every retryable failure: the call is idempotent, or a repeat costs nothing
  unsent,  // only when it cannot have taken effect: a failed connect, or a 429/5xx reply
};

// One call: what to send and where a 2xx reply's body goes.
struct Call {
  Call(std::string method_, std::string path_)
      : method(std::move(method_)), path(std::move(path_)) {}

  std::string method;                        // "GET" or "POST"
  std::string path;                          // after the base URL: "/batches?limit=100"
  std::string json;                          // a POST's body, when no upload
  const std::string* upload_path = nullptr;  // multipart upload: purpose=batch, this file...
  const std::string* upload_name = nullptr;  // ...under this name
  int download_fd = -1;                      // a 2xx body is written here instead of kept
  const std::string* download_name = nullptr;
  RetryWhen retry = RetryWhen::any;
};

// The state of one transfer, for the callbacks.
struct Sink {
  CURL* easy = nullptr;
  HttpResponse response;
  bool too_large = false;
  int fd = -1;
  const std::string* fd_name = nullptr;
  std::string write_error;  // why writing to fd failed; stops the transfer
};

size_t on_batch_body(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t bytes = size * count;
  if (sink->fd >= 0) {
    long status = 0;
    curl_easy_getinfo(sink->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      try {
        write_all(sink->fd, std::string_view(data, bytes), *sink->fd_name);
      } catch (const Error& e) {
        sink->write_error = e.what();
        return 0;  // libcurl stops with CURLE_WRITE_ERROR
      }
      return bytes;
    }
  }
  if (sink->response.body.size() + bytes > kMaxReplyBytes) {
    sink->too_large = true;
    return 0;
  }
  sink->response.body.append(data, bytes);
  return bytes;
}

size_t on_batch_header(char* data, size_t size, size_t count, void* user) {
  curl::read_retry_header(std::string_view(data, size * count), static_cast<Sink*>(user)->response);
  return size * count;
}

// Frees a multipart body after detaching it from the handle, which must not point at it freed.
struct MimeGuard {
  CURL* easy;
  curl_mime* mime;
  ~MimeGuard() {
    if (!mime) return;
    curl_easy_setopt(easy, CURLOPT_MIMEPOST, nullptr);
    curl_mime_free(mime);
  }
};

// The path of `url` from the first '/' after the host ("/v1"), without any query: what error
// messages name, so the host and any user:password@ in it stay out of them.
std::string path_of(std::string_view url) {
  size_t scheme = url.find("://");
  size_t host = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t slash = url.find('/', host);
  if (slash == std::string_view::npos) return "";
  return std::string(url.substr(slash, url.find('?', slash) - slash));
}

}  // namespace

struct BatchApi::Impl {
  BatchApiOptions options;
  std::string base;       // base_url without a trailing slash
  std::string base_path;  // its path, for messages
  bool proxy_from_environment = curl::proxy_in_environment();
  CURL* easy = nullptr;
  Slist headers;       // Accept, no Expect, Authorization; holds the key, never logged
  Slist json_headers;  // the same and Content-Type: application/json
  char error[CURL_ERROR_SIZE] = {};
  RetryPolicy policy;
  std::mt19937_64 rng{std::random_device{}()};

  explicit Impl(BatchApiOptions given) : options(std::move(given)) {
    if (options.base_url.empty()) throw Error("batch API: no base URL given");
    base = options.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    base_path = path_of(base);
    policy.max_retries = options.max_retries;
    curl::init_curl_once();
    easy = curl_easy_init();
    if (!easy) throw Error("libcurl: curl_easy_init failed");
    // No "Expect: 100-continue" before an upload: servers that do not answer it cost a second.
    for (Slist* list : {&headers, &json_headers}) {
      append(*list, "Accept: application/json");
      append(*list, "Expect:");
      if (!options.api_key.empty()) append(*list, "Authorization: Bearer " + options.api_key);
    }
    append(json_headers, "Content-Type: application/json");
  }

  ~Impl() {
    if (easy) curl_easy_cleanup(easy);
  }

  static void append(Slist& list, const std::string& header) {
    curl_slist* head = curl_slist_append(list.get(), header.c_str());
    if (!head) throw Error("libcurl: out of memory building request headers");
    if (!list) list.reset(head);
  }

  // `text` escaped for a URL's path segment or query value: ids come from outside. An empty id
  // would name another endpoint ("GET /batches/" lists them), so it is refused.
  std::string escape(const std::string& text) const {
    if (text.empty()) throw Error("batch API: an empty id");
    char* escaped = curl_easy_escape(easy, text.c_str(), static_cast<int>(text.size()));
    if (!escaped) throw Error("libcurl: out of memory escaping a URL");
    std::string out(escaped);
    curl_free(escaped);
    return out;
  }

  std::string name(const Call& call) const { return call.method + " " + base_path + call.path; }

  // One attempt. The handle is reset first, so no option of an earlier call carries over;
  // libcurl keeps its connections and DNS cache across the reset.
  HttpResponse perform(const Call& call) {
    curl_easy_reset(easy);
    error[0] = '\0';
    Sink sink;
    sink.easy = easy;
    sink.fd = call.download_fd;
    sink.fd_name = call.download_name;
    if (sink.fd >= 0 && (::ftruncate(sink.fd, 0) != 0 || ::lseek(sink.fd, 0, SEEK_SET) != 0)) {
      throw_io_error(*sink.fd_name, "cannot truncate");
    }
    curl::set_common_options(easy, options.timeout_seconds, proxy_from_environment);
    std::string url = base + call.path;
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // a compressed download is faster
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_batch_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_batch_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &sink);
    MimeGuard mime{easy, nullptr};
    if (call.upload_path != nullptr) {
      mime.mime = curl_mime_init(easy);
      curl_mimepart* purpose = curl_mime_addpart(mime.mime);
      curl_mimepart* file = curl_mime_addpart(mime.mime);
      if (!purpose || !file || curl_mime_name(purpose, "purpose") != CURLE_OK ||
          curl_mime_data(purpose, "batch", CURL_ZERO_TERMINATED) != CURLE_OK ||
          curl_mime_name(file, "file") != CURLE_OK ||
          curl_mime_filedata(file, call.upload_path->c_str()) != CURLE_OK ||
          curl_mime_filename(file, call.upload_name->c_str()) != CURLE_OK) {
        throw Error(name(call) + ": libcurl could not build the upload of " + *call.upload_path);
      }
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
      curl_easy_setopt(easy, CURLOPT_MIMEPOST, mime.mime);
    } else if (call.method == "POST") {
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, json_headers.get());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(call.json.size()));
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call.json.c_str());
    } else {
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }

    CURLcode result = curl_easy_perform(easy);
    if (!sink.write_error.empty()) throw Error(sink.write_error);  // a local disk, not the server
    HttpResponse response = std::move(sink.response);
    response.error = curl::map_curl_error(result);
    if (response.error == TransportError::none) {
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
    } else if (sink.too_large && result == CURLE_WRITE_ERROR) {
      response.error = TransportError::too_large;
      response.error_text = "the reply is over " + std::to_string(kMaxReplyBytes) + " bytes";
    } else {
      response.error_text = curl::error_text(result, error);
    }
    return response;
  }

  // The Error for a failed call, one line: "<METHOD> <path>: <status>: <server's message>" or
  // "<METHOD> <path>: <curl's message>". Whatever came from outside has the key masked.
  Error failure(const Call& call, const HttpResponse& response) const {
    std::string message = name(call) + ": ";
    if (response.error != TransportError::none) {
      message += redacted(response.error_text, options.api_key);
    } else {
      message += std::to_string(response.status) + ": " +
                 redacted(error_message(response.body), options.api_key);
    }
    return Error(message);
  }

  // Performs `call`, retrying as its RetryWhen and the policy allow; returns the 2xx reply.
  HttpResponse run(const Call& call) {
    for (int attempt = 0;; ++attempt) {
      HttpResponse response = perform(call);
      Verdict verdict = classify_http(response);
      if (verdict.action == Verdict::Action::accept) return response;
      // Under RetryWhen::unsent, a 429 or 5xx is a reply that the request was not taken, and a
      // failed connect sent nothing; anything else may have reached the server.
      bool unsent = response.error == TransportError::connect || response.status == 429 ||
                    (response.status >= 500 && response.status < 600);
      bool retry = verdict.action == Verdict::Action::retry && attempt < options.max_retries &&
                   (call.retry == RetryWhen::any || unsent);
      if (!retry) {
        Error error = failure(call, response);
        if (verdict.action == Verdict::Action::retry && call.retry == RetryWhen::unsent &&
            !unsent) {
          throw Error(std::string(error.what()) +
                      " (not sent again: it may have reached the server)");
        }
        throw error;
      }
      double delay = retry_delay(attempt + 1, policy, response, rng, std::time(nullptr));
      spdlog::warn("{}; retry {} of {} in {:.1f}s", failure(call, response).what(), attempt + 1,
                   options.max_retries, delay);
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    }
  }

  // `parse` applied to the JSON object of the 2xx reply to `call`; an unreadable reply throws
  // naming the call.
  template <typename Parse>
  auto run_parsed(const Call& call, Parse parse) {
    HttpResponse response = run(call);
    try {
      return parse(parse_object(response.body, "the reply"));
    } catch (const Error& e) {
      throw Error(name(call) + ": " + e.what());
    }
  }
};

BatchApi::BatchApi(BatchApiOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

BatchApi::~BatchApi() = default;

RemoteFile BatchApi::upload(const std::string& path, const std::string& filename) {
  // libcurl would open the file only once the request is under way; a missing file is the
  // caller's problem, not the server's, so it is named before anything is sent.
  if (::access(path.c_str(), R_OK) != 0) throw_io_error(path, "cannot read for upload");
  Call call("POST", "/files");
  call.upload_path = &path;
  call.upload_name = &filename;
  return impl_->run_parsed(call, file_of);
}

std::vector<std::string> BatchApi::list_models() {
  Call call("GET", "/models");
  return impl_->run_parsed(call, [](const json& reply) {
    std::vector<std::string> ids;
    for (const json& model : list_data(reply))
      ids.push_back(string_member(model, "id", "a model", /*required=*/true));
    return ids;
  });
}

std::vector<RemoteFile> BatchApi::list_files() {
  Call call("GET", "/files?purpose=batch");
  return impl_->run_parsed(call, [](const json& reply) {
    std::vector<RemoteFile> files;
    for (const json& file : list_data(reply)) files.push_back(file_of(file));
    return files;
  });
}

RemoteBatch BatchApi::create(const std::string& input_file_id,
                             const std::map<std::string, std::string>& metadata) {
  json body = {{"input_file_id", input_file_id},
               {"endpoint", "/v1/chat/completions"},
               {"completion_window", "24h"},
               {"metadata", metadata}};
  Call call("POST", "/batches");
  call.json = body.dump();
  call.retry = RetryWhen::unsent;  // see the header: a second batch costs money
  return impl_->run_parsed(call, batch_of);
}

RemoteBatch BatchApi::get(const std::string& batch_id) {
  Call call("GET", "/batches/" + impl_->escape(batch_id));
  return impl_->run_parsed(call, batch_of);
}

std::vector<RemoteBatch> BatchApi::list_batches(size_t max) {
  std::vector<RemoteBatch> batches;
  std::string after;
  while (batches.size() < max) {
    Call call("GET", "/batches?limit=" + std::to_string(kBatchPageSize));
    if (!after.empty()) call.path += "&after=" + impl_->escape(after);
    bool more = impl_->run_parsed(call, [&](const json& reply) {
      const json& data = list_data(reply);
      for (const json& batch : data) {
        if (batches.size() == max) break;
        batches.push_back(batch_of(batch));
      }
      const json* has_more = member(reply, "has_more");
      if (data.empty() || has_more == nullptr || !has_more->is_boolean() || !has_more->get<bool>())
        return false;
      // OpenAI names the page's last id; without it, the last object on the page is the cursor.
      after = string_member(reply, "last_id", "list");
      if (after.empty()) after = string_member(data.back(), "id", "list", true);
      return true;
    });
    if (!more) break;
  }
  return batches;
}

RemoteBatch BatchApi::cancel(const std::string& batch_id) {
  Call call("POST", "/batches/" + impl_->escape(batch_id) + "/cancel");
  return impl_->run_parsed(call, batch_of);
}

void BatchApi::download(const std::string& file_id, const std::string& path) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_io_error(tmp, "cannot create");
  // Until the rename, any way out closes and removes the .tmp file.
  struct TmpGuard {
    int fd;
    const std::string& tmp;
    bool done = false;
    ~TmpGuard() {
      if (fd >= 0) ::close(fd);
      if (!done) ::unlink(tmp.c_str());
    }
  } guard{fd, tmp};

  Call call("GET", "/files/" + impl_->escape(file_id) + "/content");
  call.download_fd = fd;
  call.download_name = &tmp;
  impl_->run(call);
  if (::fsync(fd) != 0) throw_io_error(tmp, "cannot sync");
  int closed = ::close(guard.fd);
  guard.fd = -1;
  if (closed != 0) throw_io_error(tmp, "cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw_io_error(path, "cannot rename into place");
  // The directory is not synced: after a power loss the output is downloaded again, which
  // costs nothing, while the rename already keeps a partial file from ever being `path`.
  guard.done = true;
}

}  // namespace personagen
