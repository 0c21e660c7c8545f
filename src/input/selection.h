#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "input/record_reader.h"
#include "personagen/input_record.h"

namespace personagen {

// Which personas `synth` and `render` use, from the selection flags.
struct SelectionOptions {
  std::vector<std::string> match;  // --match REGEX (repeatable; a persona must match at least one)
  std::vector<std::string>
      exclude;  // --exclude REGEX (repeatable; a persona matching any is dropped)
  std::vector<std::string> where;  // --where FIELD=VALUE or FIELD!=VALUE (repeatable; all hold)
  uint64_t sample = 0;             // --sample N (0 = all)
  uint64_t seed = 0;               // --seed S, for --sample
  std::string part;                // --part I/N: the I-th of N disjoint slices ("" = all)
};

// The filters of a selection: regexes on the persona text and conditions on other fields.
//
// The regexes are POSIX extended regular expressions, searched anywhere in the persona and
// case-insensitive, since "--match teacher" should find "A Teacher of ...". They work on bytes:
// case folding covers ASCII letters only, and "." matches one byte of a UTF-8 character.
//
// A where condition compares a field's text exactly: a string as is, a number or boolean as its
// JSON text ("3", "0.50", "true"). A field that is missing, null, an object or an array has no
// text: FIELD=VALUE fails and FIELD!=VALUE holds. The string "None" counts as null too, since
// Persona Hub's elite files write a missing domain either way: FIELD=None never holds, and
// FIELD!=VALUE holds for it whatever VALUE is.
//
// --part I/N keeps the personas whose text hashes to I modulo N (0 <= I < N). The N parts are
// disjoint and together cover the input, the same persona text falls in the same part for every
// task and configuration, and the split depends on nothing but the text, so N machines (a Slurm
// job array, a Kubernetes Indexed Job) can each run one part into its own output directory.
//
// selected() is const and may be called from several threads at once.
class Selection {
 public:
  // Compiles the regexes and parses the where clauses. Throws a usage Error naming the flag and
  // the bad regex or clause.
  explicit Selection(const SelectionOptions& options);
  ~Selection();
  Selection(Selection&&) noexcept;
  Selection& operator=(Selection&&) noexcept;

  // True if any flag narrows the input: a regex, a where clause, a part or a sample.
  bool active() const;
  uint64_t sample() const { return sample_; }
  uint64_t seed() const { return seed_; }

  // The fields the where clauses test, once each in order of first use: give them to the reader
  // as ReaderOptions::optional_fields.
  std::vector<std::string> fields() const;

  // True if the record is in the part and passes match, exclude and where (sampling is
  // separate). A reject is never selected.
  bool selected(const InputRecord& record) const;

 private:
  class Regex;
  void parse_part(const std::string& text);
  struct Condition {
    std::string field;
    std::string value;
    bool equal = true;  // FIELD=VALUE, else FIELD!=VALUE
  };

  std::vector<std::unique_ptr<Regex>> match_;
  std::vector<std::unique_ptr<Regex>> exclude_;
  std::vector<Condition> where_;
  uint64_t sample_ = 0;
  uint64_t seed_ = 0;
  uint64_t part_ = 0;
  uint64_t parts_ = 1;
};

// A uniform random sample of n of the records offered to it, one at a time (Algorithm R), in
// O(n) memory. The same seed and sequence of offers give the same sample on every platform: the
// random numbers come from a fixed generator, not from the standard library's distributions.
class Reservoir {
 public:
  Reservoir(uint64_t n, uint64_t seed);

  // One more candidate; it is kept, replaces a kept record, or is dropped.
  void offer(InputRecord record);
  // How many records have been offered.
  uint64_t seen() const { return seen_; }
  // The sample: min(n, seen()) records, sorted by line. Leaves the reservoir empty.
  std::vector<InputRecord> take();

 private:
  // The next number of the generator, uniform in [0, bound); advances state_.
  uint64_t draw_below(uint64_t bound);

  uint64_t n_;
  uint64_t state_;  // splitmix64
  uint64_t seen_ = 0;
  std::vector<InputRecord> kept_;
};

// A uniform random sample of n of the records for which `keep` is true, in one streaming pass
// over `reader` (a Reservoir), sorted by line. Memory is O(n) records plus the rejects. The same
// seed and input give the same sample.
// Every reject the reader yields is appended to `rejects`, in input order, and is never given
// to `keep`. n = 0 gives an empty sample (callers treat --sample 0 as "no sampling" and do not
// call this). Errors from the reader propagate.
std::vector<InputRecord> reservoir_sample(RecordReader& reader, uint64_t n, uint64_t seed,
                                          const std::function<bool(const InputRecord&)>& keep,
                                          std::vector<InputRecord>& rejects);

}  // namespace personagen
