#include "app/dedup_commands.h"

#include <cstdio>
#include <string>

#include "app/api_key.h"

namespace personagen {

ExitCode run_dedup_command(DedupOptions& d, const Options& o) {
  d.base_urls = o.base_urls;
  if (!d.embed_model.empty()) d.api_key = read_api_key(o);
  DedupStats stats = run_dedup(d);
  if (!o.quiet)
    std::fprintf(stderr,
                 "personagen: dedup kept %llu of %llu records (%llu exact, %llu near%s duplicates "
                 "dropped; %llu rejected) in %.1fs -> %s\n",
                 static_cast<unsigned long long>(stats.kept),
                 static_cast<unsigned long long>(stats.read),
                 static_cast<unsigned long long>(stats.exact_dropped),
                 static_cast<unsigned long long>(stats.near_dropped),
                 d.embed_model.empty()
                     ? ""
                     : (", " + std::to_string(stats.semantic_dropped) + " semantic").c_str(),
                 static_cast<unsigned long long>(stats.rejected), stats.seconds, d.output.c_str());
  return ExitCode::ok;
}

ExitCode run_decontam_command(const DecontamOptions& d, const Options& o) {
  DecontamStats stats = run_decontam(d);
  if (!o.quiet)
    std::fprintf(stderr,
                 "personagen: decontam kept %llu of %llu records (%llu share a %zu-word run with "
                 "the %llu test texts; %llu rejected) in %.1fs -> %s\n",
                 static_cast<unsigned long long>(stats.kept),
                 static_cast<unsigned long long>(stats.read),
                 static_cast<unsigned long long>(stats.dropped), d.ngram,
                 static_cast<unsigned long long>(stats.test_texts),
                 static_cast<unsigned long long>(stats.rejected), stats.seconds, d.output.c_str());
  return ExitCode::ok;
}

}  // namespace personagen
