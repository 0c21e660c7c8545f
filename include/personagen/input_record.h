#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace personagen {

// One line of the input, parsed into native types as soon as it is read.
// A line is either usable (reject is empty) or a reject (reject says why).
struct InputRecord {
  // 1-based line number in the (decompressed) input; with several input files it counts on
  // across them, so it grows strictly over the whole input (what resume and failures rely on).
  uint64_t line = 0;
  uint64_t offset = 0;     // byte offset of the line's first byte in its (decompressed) file
  uint32_t file = 0;       // index of its file in the list of input files
  uint64_t file_line = 0;  // 1-based line number within its file (= line for a single file)
  std::string persona;     // the selected persona field
  std::string id;          // the record's own id ("id", else "uuid"), if it had one
  // Extra fields a custom template asked for, in the order they were asked for.
  // Strings are copied as is; numbers and booleans as their JSON text.
  std::vector<std::pair<std::string, std::string>> fields;

  std::string reject;   // non-empty: this line is unusable, and this is why
  std::string excerpt;  // for a reject: the start of the line, as valid UTF-8

  bool ok() const { return reject.empty(); }
};

}  // namespace personagen
