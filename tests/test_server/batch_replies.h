#pragma once

// The Files and Batches API's JSON (batches.h keeps the state): file and batch objects, lists,
// a batch's input lines checked as OpenAI checks them, and its result lines.

#include <cstddef>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace personagen::testing::detail {

// Objects are plain structs here; only batch_replies.cpp turns them into OpenAI's JSON.

// A file object of the Files API.
struct FileObject {
  std::string id, filename, purpose;
  size_t bytes = 0;
  std::time_t created_at = 0;
};

std::string file_json(const FileObject& file);
// {"object":"list","data":[...],"has_more":false}, the files in the order given.
std::string file_list_json(const std::vector<FileObject>& files);

// An entry of a failed batch's "errors" list.
struct BatchLineError {
  std::string code, message;
  size_t line = 0;  // 1-based; 0 (sent as null) when the error is about the whole file
};

// A batch object: status is one of validating, failed, in_progress, finalizing, completed,
// expired, cancelling, cancelled; an empty file id and an unset time are sent as null.
struct BatchObject {
  std::string id, endpoint, input_file_id, completion_window;
  std::string metadata = "null";  // JSON text: an object or null
  std::string status = "validating";
  std::vector<BatchLineError> errors;  // "errors" is null when there are none
  std::string output_file_id, error_file_id;
  std::time_t created_at = 0;
  std::optional<std::time_t> in_progress_at, finalizing_at, completed_at, failed_at, expired_at,
      cancelling_at, cancelled_at;
  size_t total = 0, completed = 0, failed = 0;  // "request_counts"
};

std::string batch_json(const BatchObject& batch);
// A page of a batch list, in the order given, with first_id and last_id (null when empty).
std::string batch_list_json(const std::vector<const BatchObject*>& page, bool has_more);

// The members of a POST /v1/batches body, or nullopt and the reason in `error` when it is not an
// object or a member has the wrong type (the values are left to the caller to check).
struct BatchCreate {
  std::string input_file_id, endpoint, completion_window;
  std::string metadata = "null";  // JSON text: an object or null
};
std::optional<BatchCreate> parse_batch_create(const std::string& body, std::string& error);

// One request of a batch input file; `body` is the JSON text of its "body" object.
struct BatchInputLine {
  std::string custom_id, body;
};

// The requests of a batch input file (JSONL), checked as OpenAI checks them: each line a JSON
// object whose "custom_id" is a string unique in the file (else "duplicate_custom_id"),
// "method" "POST", "url" `endpoint` and "body" an object (else "invalid_request"). Blank lines
// are skipped and still counted in line numbers. Every bad line adds an error; a file without a
// request gives one "empty_file" error.
std::vector<BatchInputLine> parse_batch_input(const std::string& content,
                                              const std::string& endpoint,
                                              std::vector<BatchLineError>& errors);

// A line of an output or error file for a request that ran and got `status` and `body` (JSON
// text): {"id":"batch_req_<n>","custom_id",...,"response":{"status_code","request_id":"req_<n>",
// "body"},"error":null}.
std::string batch_result_line(size_t number, const std::string& custom_id, int status,
                              const std::string& body);
// A line of an error file for a request that never ran: "response" null and "error" with
// `code` ("batch_expired" or "batch_cancelled") and a message.
std::string batch_unrun_line(size_t number, const std::string& custom_id, std::string_view code);

}  // namespace personagen::testing::detail
