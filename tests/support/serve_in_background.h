#pragma once

#include <httplib.h>

#include <chrono>
#include <thread>

namespace personagen {

// Runs `server`, already bound, on `thread`, and waits (up to 5 s) until it accepts: a test's
// stub server. True once it runs.
inline bool serve_in_background(httplib::Server& server, std::thread& thread) {
  thread = std::thread([&server] { server.listen_after_bind(); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!server.is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  return server.is_running();
}

}  // namespace personagen
