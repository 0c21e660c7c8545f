#pragma once

// The fixture shared by the dedup tests: a temporary directory, files in it, and readers for
// the output and the report.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "dedup/dedup.h"

namespace personagen::testing_support {

class DedupTest : public ::testing::Test {
 protected:
  using Json = nlohmann::json;

  void SetUp() override {
    std::string pattern =
        (std::filesystem::path(::testing::TempDir()) / "dedup_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  }

  static std::string read(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }

  static std::vector<std::string> lines(const std::string& file) {
    std::vector<std::string> out;
    std::istringstream in(read(file));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  static std::vector<Json> report(const std::string& file) {
    std::vector<Json> out;
    for (const std::string& line : lines(file)) out.push_back(Json::parse(line));
    return out;
  }

  // Options reading `in` and writing out.jsonl and report.jsonl in the test's directory.
  DedupOptions options(const std::string& in) const {
    DedupOptions o;
    o.inputs = {in};
    o.output = path("out.jsonl");
    o.report = path("report.jsonl");
    return o;
  }

  static std::string persona_line(const std::string& text) {
    return Json{{"persona", text}}.dump() + "\n";
  }

  std::filesystem::path dir_;
};

}  // namespace personagen::testing_support
