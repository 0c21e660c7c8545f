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

void RunDirectory::remove_leftovers(const std::string& parent, const std::string& prefix) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(parent, error)) {
    const std::string name = entry.path().filename().string();
    // mkdtemp's names: the prefix, a dot and six characters.
    if (name.size() == prefix.size() + 7 && name.starts_with(prefix + ".") &&
        entry.is_directory()) {
      std::error_code ignored;
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }
}

RunDirectory::~RunDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace personagen
