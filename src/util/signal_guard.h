#pragma once

#include <atomic>

namespace personagen {

// Counts SIGINT and SIGTERM while alive: level 1 asks the run to wind down, level 2 to stop now.
// Restores the previous handlers when it goes out of scope.
class SignalGuard {
 public:
  SignalGuard();
  ~SignalGuard();
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
  const std::atomic<int>& level() const;
};

}  // namespace personagen
