#pragma once

// Helpers shared by the unit tests (the end-to-end tests have e2e_support.h).

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "personagen/error.h"
#include "personagen/input_record.h"

namespace personagen {

// The value a plan records for configuration entry `name` (a SynthPlan's `config`), or
// "<absent>".
template <class Plan>
std::string config_value(const Plan& plan, const std::string& name) {
  for (const auto& [key, value] : plan.config)
    if (key == name) return value;
  return "<absent>";
}

// An input record at line 1 whose text (persona) is `text`, with these extra fields.
inline InputRecord record(std::string text,
                          std::vector<std::pair<std::string, std::string>> fields = {}) {
  InputRecord r;
  r.line = 1;
  r.persona = std::move(text);
  r.fields = std::move(fields);
  return r;
}

// Runs `body` and returns the message of the Error it throws ("" if none), and its exit code in
// `*code` when asked.
template <typename Body>
std::string error_of(Body body, ExitCode* code = nullptr) {
  try {
    body();
  } catch (const Error& error) {
    if (code != nullptr) *code = error.code();
    return error.what();
  }
  return "";
}

// The bytes of the file at `path`; "" if it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Replaces the file at `path` with `text`.
inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// The lines of `text`, without their newlines.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A fixture that gives each test a fresh, empty directory of its own under gtest's TempDir(),
// named after the test suite, and removes it with everything in it after the test.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string suite = ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name();
    std::replace(suite.begin(), suite.end(), '/', '_');  // "Values/ParamTest" for TEST_P
    std::string pattern = ::testing::TempDir() + suite + "_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The path of `name` inside the directory.
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

}  // namespace personagen
