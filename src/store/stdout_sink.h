#pragma once

#include <cstdio>
#include <memory>

#include "store/record_sink.h"

namespace personagen {

// Records to stdout, one per line. The side files' lines have no file, so each is written to
// `diagnostics` (stderr) as one line, whatever -q and --log-level say, so that nothing is lost:
// "personagen: <label>: <the JSON>" with the label of side_file.h, e.g. "personagen: failure:
// <the failures.jsonl JSON>", "personagen: reject: ..." and "personagen: unverified: ...". Only
// lines are counted in the state (bytes stay 0). A failed write to either stream throws Error
// naming it.
std::unique_ptr<RecordSink> make_stdout_sink(FILE* diagnostics = stderr);

}  // namespace personagen
