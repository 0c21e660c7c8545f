#include "dedup/dedup_stages.h"

#include "personagen/error.h"

namespace personagen {

// Placeholder: the stages are being written (issue 15).
InputPart parse_part(const std::string&, const std::string& flag) {
  throw usage_error(flag + ": not implemented yet");
}
StageResult dedup_signatures(const StageOptions&) {
  throw Error("not implemented yet");
}
StageResult dedup_buckets(const StageOptions&) {
  throw Error("not implemented yet");
}
StageResult dedup_clusters(const StageOptions&) {
  throw Error("not implemented yet");
}
StageResult dedup_filter(const StageOptions&) {
  throw Error("not implemented yet");
}
DedupStats run_dedup_out_of_core(const DedupOptions&, size_t, const std::string&) {
  throw Error("not implemented yet");
}

}  // namespace personagen
