#pragma once

// What the tests of the test server share: a chat request body, a client for the server, and
// readers of its replies.

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "test_server/test_server.h"

namespace personagen::testing {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline constexpr const char* kChatPath = "/v1/chat/completions";

// A chat-completions body: a system message, then `prompt` as the user message.
inline std::string chat_body(const std::string& prompt, const std::string& model = "gpt-test") {
  Json body = {{"model", model},
               {"messages",
                {{{"role", "system"}, {"content", "You are helpful."}},
                 {{"role", "user"}, {"content", prompt}}}}};
  return body.dump();
}

// A client of `server` on 127.0.0.1 that waits at most `read_timeout` for a reply.
inline httplib::Client client_for(const TestServer& server,
                                  milliseconds read_timeout = milliseconds(5000)) {
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(read_timeout);
  client.set_connection_timeout(std::chrono::seconds(2));
  return client;
}

// POSTs `body` to the chat-completions endpoint of `server`.
inline httplib::Result post_chat(const TestServer& server, const std::string& body,
                                 milliseconds read_timeout = milliseconds(5000)) {
  return client_for(server, read_timeout).Post(kChatPath, body, "application/json");
}

// The reply's HTTP status, or -1 when there was no reply (a transport error).
inline int status_of(const httplib::Result& result) {
  return result ? result->status : -1;
}

// The content object of a chat.completion body.
inline Json content_of(const std::string& completion) {
  Json reply = Json::parse(completion);
  return Json::parse(reply["choices"][0]["message"]["content"].get<std::string>());
}

}  // namespace personagen::testing
