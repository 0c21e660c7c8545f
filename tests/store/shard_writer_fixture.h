#pragma once

// The fixture of the ShardWriterTest suite, which two files share: shard_writer_test.cpp (the
// shard directory) and stdout_sink_test.cpp (the sink for -o -).

#include <filesystem>
#include <string>
#include <vector>

#include "support/unit_support.h"

namespace personagen {

// Record number `i` as a sink is given it: one JSON document without a newline.
inline std::string record(int i) {
  return "{\"id\":" + std::to_string(i) + "}";
}

class ShardWriterTest : public TempDirTest {
 protected:
  bool exists(const std::string& name) const { return std::filesystem::exists(path(name)); }
  // The lines of the file `name` in the test's directory.
  std::vector<std::string> lines(const std::string& name) const {
    return lines_of(read_file(path(name)));
  }
};

}  // namespace personagen
