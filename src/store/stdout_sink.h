#pragma once

#include <cstdio>
#include <memory>

#include "store/record_sink.h"

namespace personagen {

// Records to stdout, one per line. Failures and rejects have no file, so each is written to
// `diagnostics` (stderr) as one line, whatever -q and --log-level say, so that nothing is lost:
// "personagen: failure: <the failures.jsonl JSON>" and "personagen: reject: <the rejects.jsonl
// JSON>". A failed write to either stream throws Error naming it.
std::unique_ptr<RecordSink> make_stdout_sink(FILE* diagnostics = stderr);

}  // namespace personagen
