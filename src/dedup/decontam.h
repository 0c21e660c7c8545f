#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace personagen {

// What `personagen decontam` does; cli.cpp fills it from the command line.
struct DecontamOptions {
  // JSONL files and directories of record shards, read as one input in order; "-" = stdin, then
  // the only input; .gz/.zst read transparently.
  std::vector<std::string> inputs;
  std::string output;                // JSONL path of the records kept; "-" = stdout
  std::string field = "output";      // the text of a record that is checked
  std::vector<std::string> against;  // benchmark test sets, JSONL (at least one)
  // The fields of a test-set line whose text counts; every one present is used, so a question
  // and its answer both do. A line with none of them is a reject.
  std::vector<std::string> against_fields{"question", "problem", "prompt",  "text",
                                          "input",    "answer",  "solution"};
  size_t ngram = 13;   // words in a shared run that makes a record contaminated
  std::string report;  // optional: one JSON line per dropped record
};

struct DecontamStats {
  uint64_t test_texts = 0;   // texts read from the test sets
  uint64_t short_texts = 0;  // of those, shorter than ngram words: they can match nothing
  uint64_t test_rejected = 0;
  uint64_t ngrams = 0;  // distinct n-grams of the test sets
  uint64_t read = 0;    // non-blank input lines
  uint64_t kept = 0;
  uint64_t dropped = 0;   // records that share an n-gram with a test text
  uint64_t rejected = 0;  // input lines that are not JSON objects with a string `field`
  double seconds = 0;
};

// Removes from a JSONL file every record whose text shares a run of `ngram` words with a text
// of a benchmark test set, the decontamination the Persona Hub paper applied (13-grams). Texts are
// compared as `dedup` compares them: NFC, case-folded, white space collapsed, and split into
// words with ASCII punctuation stripped from their ends, so "Solve: 3x = 12." and "solve 3x = 12"
// are the same words. Kept lines are written as they were, in input order, to `<path>.tmp` and
// renamed at the end; the report names, for each dropped record, the test-set line it matched
// and the shared words. Unusable lines are counted, logged (file:line: reason) and not written.
// Throws a usage Error on bad options and Error on unreadable input or a failed write.
DecontamStats run_decontam(const DecontamOptions& options);

}  // namespace personagen
