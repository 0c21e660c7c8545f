#include "dedup/spill_sort.h"

#include <stdlib.h>

#include <filesystem>
#include <system_error>

#include "personagen/error.h"
#include "util/file_io.h"

namespace personagen {

RunDirectory::RunDirectory(const std::string& parent, const std::string& prefix) {
  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (error) throw Error(parent + ": cannot create the directory: " + error.message());
  path_ = parent + "/" + prefix + ".XXXXXX";
  if (::mkdtemp(path_.data()) == nullptr) throw_io_error(path_, "cannot create a directory");
}

RunDirectory::~RunDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace personagen
