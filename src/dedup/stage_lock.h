#pragma once

#include <string>

namespace personagen {

// An exclusive flock() on `path` (created if missing) for as long as this lives, so that two jobs
// of one stage (a Slurm requeue while the first still runs) never write the same files at once.
// The lock goes with the process, also when it is killed; the file stays, empty.
class StageLock {
 public:
  // Throws Error("another dedup STAGE is running on WORK (PATH)") if another holder has it, and
  // Error naming `path` if it cannot be opened.
  StageLock(const std::string& path, const std::string& stage, const std::string& work);
  ~StageLock();
  StageLock(const StageLock&) = delete;
  StageLock& operator=(const StageLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace personagen
