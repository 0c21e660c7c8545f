#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace personagen {

// Whether a file named `name` inside an input directory is a record shard to read: it ends in
// .jsonl, .jsonl.gz or .jsonl.zst and is not one of the side files a run writes beside its shards
// (failures.jsonl, failures.retry.jsonl, rejects.jsonl, unverified.jsonl, below-threshold.jsonl),
// nor a batch directory's requests and results (requests-*, results-*, errors-*), nor hidden.
// A .tmp shard (still being written), manifest.json and checkpoint.journal do not
// end in .jsonl, so they are never read.
bool is_record_shard(std::string_view name);

// The input files of a run, from the -i values as given: a directory stands for its record
// shards (is_record_shard) in byte-wise name order, so `-i out/math` reads what `synth -o
// out/math` wrote; anything else stays as it is (a file that cannot be opened is named by the
// reader). "-" (stdin) is allowed only as the only input. Throws a usage Error naming the
// directory if it holds no shard or cannot be listed, or if "-" is one of several inputs. No
// inputs give no files (the reader refuses that).
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs);

// The -i values joined into one stable text for a run's configuration: a single input is its
// value unchanged (so a run made before -i could repeat still resumes), several are joined with
// " + ".
std::string join_inputs(const std::vector<std::string>& inputs);

}  // namespace personagen
