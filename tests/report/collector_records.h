#pragma once

// Records for the collector's tests (report_collector_test.cpp, report_collector_kinds_test.cpp):
// texts whose n-grams and near duplicates are known, synth records of them, and a fixture with a
// directory of its own.

#include <cctype>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "report/collector.h"
#include "support/unit_support.h"

namespace personagen::collector_test {

// "u<i>w0 u<i>w1 ...": `words` words of a vocabulary of their own, the last `changed` of them
// replaced by others, so a copy with c of 20 words changed has Jaccard (20 - c) / (20 + c).
inline std::string text_of(int i, int words, int changed = 0) {
  std::string text;
  for (int k = 0; k < words; ++k) {
    if (k) text += ' ';
    text += "u" + std::to_string(i) + (k >= words - changed ? "x" : "w") + std::to_string(k);
  }
  return text;
}

inline std::string synth_line(const std::string& output, const std::string& persona,
                              const std::string& finish = "stop", int attempts = 1) {
  nlohmann::json usage = {{"prompt_tokens", 10}, {"completion_tokens", 5}, {"total_tokens", 15}};
  return nlohmann::json{{"custom_id", "c"}, {"persona", persona},  {"task", "math"},
                        {"output", output}, {"parsed", nullptr},   {"finish_reason", finish},
                        {"usage", usage},   {"attempts", attempts}}
             .dump() +
         "\n";
}

// The constructed dataset: 14 records whose figures are known.
//   0-9:  ten texts of disjoint words; texts 3-9 of 10, 15, ... 40 words, the others of 20
//   10:   text 0 again; 11: text 0 in other case and spacing (the same once normalized)
//   12:   text 1 with its last word changed (Jaccard 19/21 = 0.905)
//   13:   text 2 with its last three words changed (Jaccard 17/23 = 0.739)
// Personas p0..p4 in turn; records 4 and 12 end by "length"; records 2 and 5 took 2 attempts.
inline std::vector<std::string> dataset_texts() {
  std::vector<std::string> texts;
  for (int i = 0; i < 10; ++i) texts.push_back(text_of(i, i < 3 ? 20 : 10 + 5 * (i - 3)));
  texts.push_back(text_of(0, 20));
  std::string loud = text_of(0, 20);
  for (char& c : loud) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  texts.push_back("  " + loud + "\n");
  texts.push_back(text_of(1, 20, 1));
  texts.push_back(text_of(2, 20, 3));
  return texts;
}

inline std::string dataset() {
  std::string out;
  std::vector<std::string> texts = dataset_texts();
  for (size_t i = 0; i < texts.size(); ++i) {
    out += synth_line(texts[i], "p" + std::to_string(i % 5), i == 4 || i == 12 ? "length" : "stop",
                      i == 2 || i == 5 ? 2 : 1);
  }
  return out;
}

class CollectorTest : public TempDirTest {
 protected:
  ReportInput input_of(std::vector<std::string> inputs) {
    ReportInput in;
    in.inputs = std::move(inputs);
    return in;
  }
};

}  // namespace personagen::collector_test
