#include "input/selection.h"

#include <regex.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <string_view>
#include <utility>

#include "personagen/error.h"
#include "util/hash.h"

namespace personagen {
namespace {

// Compiled once per regex: extended syntax, since users write "nurse|doctor" and "(a|b)+";
// no submatches, since only "does it match" is asked; case-insensitive.
constexpr int kRegexFlags = REG_EXTENDED | REG_NOSUB | REG_ICASE;

// Python's str(None): how Persona Hub's elite files spell a null field as a string.
constexpr std::string_view kNoneText = "None";

}  // namespace

// A compiled POSIX regex, freed with its owner. std::regex is avoided: it is slow, and g++ 12
// warns inside it under -Werror with the sanitizers on.
class Selection::Regex {
 public:
  Regex(const std::string& flag, const std::string& pattern) {
    auto bad = [&](const std::string& why) {
      return usage_error(flag + " \"" + pattern + "\": not a valid regular expression: " + why);
    };
    if (pattern.find('\0') != std::string::npos) throw bad("it contains a NUL byte");
    if (int code = regcomp(&regex_, pattern.c_str(), kRegexFlags); code != 0) {
      char message[256];  // regerror cuts a longer message; glibc's are all shorter
      regerror(code, &regex_, message, sizeof message);
      throw bad(message);
    }
  }
  ~Regex() { regfree(&regex_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // True if the regex matches anywhere in `text`. glibc's regexec is safe to call from several
  // threads on one regex.
  bool search(const std::string& text) const {
#ifdef REG_STARTEND
    // With REG_STARTEND a persona holding a NUL ("\u0000" in the JSON) is searched in full.
    if (text.size() <= static_cast<size_t>(INT_MAX)) {
      regmatch_t range[1];
      range[0].rm_so = 0;
      range[0].rm_eo = static_cast<regoff_t>(text.size());
      return regexec(&regex_, text.data(), 1, range, REG_STARTEND) == 0;
    }
#endif
    return regexec(&regex_, text.c_str(), 0, nullptr, 0) == 0;
  }

 private:
  regex_t regex_;
};

Selection::Selection(const SelectionOptions& options)
    : sample_(options.sample), seed_(options.seed) {
  if (!options.part.empty()) parse_part(options.part);
  for (const std::string& pattern : options.match) {
    match_.push_back(std::make_unique<Regex>("--match", pattern));
  }
  for (const std::string& pattern : options.exclude) {
    exclude_.push_back(std::make_unique<Regex>("--exclude", pattern));
  }
  for (const std::string& clause : options.where) {
    // The first "=" splits, so a value may hold "=" but a field name may not.
    const size_t equals = clause.find('=');
    Condition condition;
    size_t name_end = equals;
    if (equals != std::string::npos && equals > 0 && clause[equals - 1] == '!') {
      condition.equal = false;
      name_end = equals - 1;
    }
    if (equals == std::string::npos || name_end == 0) {
      throw usage_error("--where \"" + clause + "\": expected FIELD=VALUE or FIELD!=VALUE");
    }
    condition.field = clause.substr(0, name_end);
    condition.value = clause.substr(equals + 1);
    where_.push_back(std::move(condition));
  }
}

Selection::~Selection() = default;
Selection::Selection(Selection&&) noexcept = default;
Selection& Selection::operator=(Selection&&) noexcept = default;

bool Selection::active() const {
  return !match_.empty() || !exclude_.empty() || !where_.empty() || sample_ > 0 || parts_ > 1;
}

void Selection::parse_part(const std::string& text) {
  const size_t slash = text.find('/');
  const auto number = [](std::string_view digits, uint64_t& value) {
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return !digits.empty() && error == std::errc() && end == digits.data() + digits.size();
  };
  if (slash == std::string::npos || !number(std::string_view(text).substr(0, slash), part_) ||
      !number(std::string_view(text).substr(slash + 1), parts_) || parts_ == 0 || part_ >= parts_) {
    throw usage_error("--part \"" + text + "\": expected I/N with 0 <= I < N, e.g. 0/8");
  }
}

std::vector<std::string> Selection::fields() const {
  std::vector<std::string> names;
  for (const Condition& condition : where_) {
    if (std::find(names.begin(), names.end(), condition.field) == names.end()) {
      names.push_back(condition.field);
    }
  }
  return names;
}

bool Selection::selected(const InputRecord& record) const {
  if (!record.ok()) return false;
  if (parts_ > 1 && hash64(record.persona) % parts_ != part_) return false;
  auto matches = [&](const std::unique_ptr<Regex>& regex) { return regex->search(record.persona); };
  if (!match_.empty() && std::none_of(match_.begin(), match_.end(), matches)) return false;
  if (std::any_of(exclude_.begin(), exclude_.end(), matches)) return false;
  for (const Condition& condition : where_) {
    auto field = std::find_if(record.fields.begin(), record.fields.end(),
                              [&](const auto& entry) { return entry.first == condition.field; });
    const bool has_text = field != record.fields.end() && field->second != kNoneText;
    const bool equal = has_text && field->second == condition.value;
    if (equal != condition.equal) return false;
  }
  return true;
}

Reservoir::Reservoir(uint64_t n, uint64_t seed) : n_(n), state_(seed) {}

void Reservoir::offer(InputRecord record) {
  // Algorithm R: the k-th record offered (from 0) enters with probability n / (k + 1), in place
  // of a uniformly chosen kept one, which keeps every record seen so far equally likely to be in.
  const uint64_t k = seen_++;
  if (k < n_) {
    kept_.push_back(std::move(record));
  } else if (uint64_t slot = draw_below(k + 1); slot < n_) {
    kept_[slot] = std::move(record);
  }
}

std::vector<InputRecord> Reservoir::take() {
  std::vector<InputRecord> sample = std::move(kept_);
  kept_.clear();
  std::sort(sample.begin(), sample.end(),
            [](const InputRecord& a, const InputRecord& b) { return a.line < b.line; });
  return sample;
}

uint64_t Reservoir::draw_below(uint64_t bound) {
  // splitmix64 (Steele, Lea and Flood), then Lemire's multiply-and-reject for an unbiased
  // integer in [0, bound): both are defined bit for bit, unlike std::uniform_int_distribution.
  unsigned __int128 product = static_cast<unsigned __int128>(splitmix64(state_)) * bound;
  if (static_cast<uint64_t>(product) < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (static_cast<uint64_t>(product) < threshold) {
      product = static_cast<unsigned __int128>(splitmix64(state_)) * bound;
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

std::vector<InputRecord> reservoir_sample(RecordReader& reader, uint64_t n, uint64_t seed,
                                          const std::function<bool(const InputRecord&)>& keep,
                                          std::vector<InputRecord>& rejects) {
  Reservoir reservoir(n, seed);
  while (auto record = reader.next()) {
    if (!record->ok()) {
      rejects.push_back(std::move(*record));
    } else if (keep(*record)) {
      reservoir.offer(std::move(*record));
    }
  }
  return reservoir.take();
}

}  // namespace personagen
