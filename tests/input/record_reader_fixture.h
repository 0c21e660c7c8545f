#pragma once

// The fixture of the RecordReaderTest suite, which two files share: record_reader_test.cpp (bytes
// into lines: compression, stdin, long lines, resume) and record_reader_fields_test.cpp (a line's
// JSON into a record or a reject).

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "input/record_reader.h"
#include "personagen/input_record.h"
#include "support/unit_support.h"

namespace personagen {

// Every record and reject `reader` yields, in order.
inline std::vector<InputRecord> read_all(RecordReader& reader) {
  std::vector<InputRecord> records;
  while (auto record = reader.next()) records.push_back(std::move(*record));
  return records;
}

class RecordReaderTest : public TempDirTest {
 protected:
  // Writes `bytes` to `name` in the test's directory and returns its path.
  std::string write(const std::string& name, const std::string& bytes) {
    std::string file = path(name);
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }

  // What a reader with `options` makes of a file `name` holding `bytes`.
  std::vector<InputRecord> read_file(const std::string& name, const std::string& bytes,
                                     ReaderOptions options = {}) {
    RecordReader reader(write(name, bytes), std::move(options));
    return read_all(reader);
  }
};

}  // namespace personagen
