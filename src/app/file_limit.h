#pragma once

#include <cstddef>

namespace personagen {

// Raises the soft limit on open files so `connections` sockets fit, up to the hard limit.
// Warns when the hard limit is too low.
void ensure_file_limit(size_t connections);

}  // namespace personagen
