#include "app/file_limit.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>

namespace personagen {

void ensure_file_limit(size_t connections) {
  // Each connection is a socket; the other 128 leave room for the input, the shards, the side
  // files and libcurl's own descriptors, with a margin.
  rlim_t needed = static_cast<rlim_t>(connections) + 128;
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
  rlim_t wanted = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
  limit.rlim_cur = wanted;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0 || wanted < needed)
    spdlog::warn(
        "the open-file limit ({}) is below the {} that -j {} needs; raise it with ulimit -n",
        wanted, needed, connections);
}

}  // namespace personagen
