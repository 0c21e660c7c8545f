// personagen-test-server: the tests' OpenAI-compatible server as a process, for end-to-end tests,
// scripts and the README demo. It runs until SIGINT or SIGTERM.

#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>

#include "test_server.h"

namespace {

// Writes the port to `path` through a temporary file and a rename, so a script that waits for
// the file never reads half of it.
void write_port_file(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << '\n';
    out.close();
    if (!out) throw std::runtime_error("cannot write port file " + tmp);
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error)
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + error.message());
}

int run(int argc, char** argv) {
  personagen::testing::ServerOptions options;
  std::string port_file;
  std::string api_key_env;
  CLI::App app("Local OpenAI-compatible server with fault injection, for personagen's tests.",
               "personagen-test-server");
  app.add_option("--port", options.port, "Port on 127.0.0.1; 0 picks a free one")
      ->check(CLI::Range(0, 65535));
  app.add_option("--port-file", port_file, "Write the port to this file once listening");
  app.add_option("--threads", options.threads, "Worker threads (at least the client concurrency)")
      ->check(CLI::PositiveNumber);
  app.add_option("--api-key-env", api_key_env,
                 "Require 'Authorization: Bearer <key>' with the key from this environment "
                 "variable");
  app.add_option("--delay-ms", options.delay_ms, "Delay before every chat reply")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--fault-rate", options.fault_rate, "Probability of a random fault per request")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--faults", options.fault_kinds, "Fault kinds for random faults (k1,k2,...)")
      ->delimiter(',');
  app.add_option("--seed", options.seed, "Seed of the random faults");
  app.add_option("--model", options.model, "Model listed by /v1/models");
  app.add_option("--batch-delay-ms", options.batch_delay_ms,
                 "Time a batch waits before its first line runs")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--batch-line-delay-ms", options.batch_line_delay_ms,
                 "Delay before each line of a batch")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--batch-expire-after", options.batch_expire_after,
                 "Lines the first --expire-batches batches run before they expire (-1: never)")
      ->check(CLI::Range(-1, std::numeric_limits<int>::max()));
  app.add_option("--expire-batches", options.expire_batches,
                 "How many batches, the first created, expire after --batch-expire-after lines")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--batch-fail-validation", options.batch_fail_validation,
               "Every batch fails validation");
  app.add_flag("--reject-response-format", options.reject_response_format,
               "Refuse every chat request that carries response_format (400)");
  app.add_flag("--reject-unknown-model", options.reject_unknown_model,
               "Refuse chat requests for any model but --model (404)");
  app.add_flag("--reject-max-tokens", options.reject_max_tokens,
               "Refuse chat requests with max_tokens, as reasoning models do (400)");
  app.add_flag("--models-html", options.models_html,
               "Answer /v1/models with an HTML page, as a misrouted proxy does");
  app.add_flag("--partial-key-in-401", options.partial_key_in_401,
               "Quote part of a wrong key in the 401, as OpenAI does");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!api_key_env.empty()) {
    const char* key = std::getenv(api_key_env.c_str());
    if (key == nullptr || *key == '\0') {
      std::cerr << "personagen-test-server: environment variable " << api_key_env
                << " is not set\n";
      return 2;
    }
    options.api_key = key;
  }

  // Block the signals before any thread starts, so every thread inherits the mask and only
  // sigwait() below receives them. SIGPIPE is ignored: clients may vanish mid-reply.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  personagen::testing::TestServer server(options);
  if (!port_file.empty()) write_port_file(port_file, server.port());
  std::cout << "listening on " << server.base_url() << std::endl;

  int signal = 0;
  sigwait(&signals, &signal);
  server.stop();
  std::cerr << "personagen-test-server: stopped after " << server.chat_request_count()
            << " chat requests and " << server.batches_created() << " batches\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "personagen-test-server: " << e.what() << '\n';
    return 2;
  }
}
