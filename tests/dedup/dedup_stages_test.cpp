// The staged and out-of-core dedup give what the in-memory dedup gives (issue 15).
#include "dedup/dedup_stages.h"

#include <gtest/gtest.h>
