#include "util/signal_guard.h"

#include <csignal>

namespace personagen {

namespace {

std::atomic<int> g_signal_level{0};
static_assert(std::atomic<int>::is_always_lock_free,
              "the signal handler needs a lock-free counter");

extern "C" void count_signal(int) {
  g_signal_level.fetch_add(1);
}

struct sigaction g_old_int, g_old_term;

}  // namespace

SignalGuard::SignalGuard() {
  g_signal_level = 0;
  struct sigaction action {};
  action.sa_handler = count_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_old_int);
  sigaction(SIGTERM, &action, &g_old_term);
}

SignalGuard::~SignalGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

const std::atomic<int>& SignalGuard::level() const {
  return g_signal_level;
}

}  // namespace personagen
