#include "store/dataset_card.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace personagen {
namespace {

// A finished math run with two closed shards, 3 records, a failure and a reject.
Manifest finished_run() {
  Manifest m;
  m.tool_version = "1.2.3";
  m.complete = true;
  m.config = {{"task", "math"},
              {"method", "persona-few-shot"},
              {"template", "math/persona-few-shot@00ff"},
              {"model", "m"},
              {"match", "a \"quoted\" | piped\nregex"}};
  m.checkpoint.writer.shards = {{"math-00000.jsonl", 2, 10, false},
                                {"math-00001.jsonl", 1, 5, false}};
  m.checkpoint.writer.side(SideFile::failures).lines = 1;
  m.checkpoint.writer.side(SideFile::rejects).lines = 4;
  m.checkpoint.totals.records = 3;
  m.checkpoint.totals.prompt_tokens = 300;
  m.checkpoint.totals.completion_tokens = 30;
  m.checkpoint.totals.billed_prompt_tokens = 400;
  m.checkpoint.totals.billed_completion_tokens = 40;
  return m;
}

// The YAML header: the text between the first two "---" lines.
std::string header(const std::string& card) {
  EXPECT_EQ(card.rfind("---\n", 0), 0u);
  return card.substr(4, card.find("\n---\n", 4) - 4 + 1);
}

TEST(DatasetCard, TheHeaderListsExactlyTheClosedShardsAsTheTrainSplit) {
  Manifest m = finished_run();
  m.complete = false;
  m.checkpoint.writer.shards.push_back({"math-00002.jsonl", 1, 5, true});  // still a .tmp
  std::string card = format_dataset_card(m, Options{});
  EXPECT_NE(header(card).find("configs:\n- config_name: default\n  data_files:\n  - split: "
                              "train\n    path:\n    - \"math-00000.jsonl\"\n    - "
                              "\"math-00001.jsonl\"\n"),
            std::string::npos)
      << card;
  EXPECT_EQ(card.find("math-00002"), std::string::npos);
  EXPECT_EQ(header(card).find("failures"), std::string::npos);
  EXPECT_NE(card.find("**in progress**"), std::string::npos);
}

TEST(DatasetCard, TheHeaderHasTheHubsMetadata) {
  Options o;
  std::string card = format_dataset_card(finished_run(), o);
  // No license key unless --license was given
  EXPECT_EQ(header(card).find("license"), std::string::npos);
  EXPECT_NE(header(card).find("tags:\n- synthetic\n- personas\n- persona-hub\n- personagen\n"),
            std::string::npos);
  EXPECT_NE(header(card).find("task_categories:\n- text-generation\n"), std::string::npos);
  EXPECT_NE(header(card).find("size_categories:\n- n<1K\n"), std::string::npos);
  o.license = "cc-by-4.0";
  EXPECT_NE(header(format_dataset_card(finished_run(), o)).find("license: \"cc-by-4.0\"\n"),
            std::string::npos);
}

TEST(DatasetCard, SizeCategoriesFollowTheHubsBuckets) {
  EXPECT_EQ(size_category(0), "n<1K");
  EXPECT_EQ(size_category(999), "n<1K");
  EXPECT_EQ(size_category(1000), "1K<n<10K");
  EXPECT_EQ(size_category(99999), "10K<n<100K");
  EXPECT_EQ(size_category(1000000), "1M<n<10M");
  EXPECT_EQ(size_category(2000000000), "1B<n<10B");
  EXPECT_EQ(size_category(UINT64_MAX), "n>1T");
}

TEST(DatasetCard, TheBodySaysItIsSyntheticAndHowItWasMade) {
  Options o;
  std::string card = format_dataset_card(finished_run(), o);
  EXPECT_NE(card.find("**synthetic**"), std::string::npos);
  EXPECT_NE(card.find("arXiv:2406.20094"), std::string::npos);
  EXPECT_NE(card.find("Scaling Synthetic Data Creation with 1,000,000,000 Personas"),
            std::string::npos);
  EXPECT_NE(card.find("| method | persona-few-shot |"), std::string::npos);
  // A user value cannot break the table
  EXPECT_NE(card.find("| match | a \"quoted\" \\| piped regex |"), std::string::npos) << card;
  EXPECT_NE(card.find("- math/persona-few-shot@00ff\n"), std::string::npos);
  EXPECT_NE(card.find("| records | 3 |"), std::string::npos);
  EXPECT_NE(card.find("| failures (`failures.jsonl`) | 1 |"), std::string::npos);
  EXPECT_NE(card.find("| rejects (`rejects.jsonl`) | 4 |"), std::string::npos);
  EXPECT_NE(card.find("| accepted (in the records) | 300 | 30 |"), std::string::npos);
  EXPECT_NE(card.find("| 400 | 40 |"), std::string::npos);
  EXPECT_EQ(card.find("in progress"), std::string::npos);
  // No price, no cost
  EXPECT_EQ(card.find("## Cost"), std::string::npos);
  o.price_in = 2;
  o.price_out = 10;
  // 400 * 2 / 1e6 + 40 * 10 / 1e6 = 0.0012
  EXPECT_NE(format_dataset_card(finished_run(), o).find("USD 0.0012 for the billed tokens"),
            std::string::npos);
}

TEST(DatasetCard, IsWrittenBesideTheManifest) {
  char tmpl[] = "/tmp/personagen-card-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::filesystem::path dir = tmpl;
  write_dataset_card_beside((dir / "manifest.json").string(), finished_run(), Options{});
  std::ifstream in(dir / "README.md");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), format_dataset_card(finished_run(), Options{}));
  EXPECT_FALSE(std::filesystem::exists(dir / "README.md.tmp"));
  // The user's own README.md (kept through --restart) is left as it is.
  std::ofstream(dir / "README.md", std::ios::trunc) << "# My notes\n";
  write_dataset_card_beside((dir / "manifest.json").string(), finished_run(), Options{});
  std::ifstream again(dir / "README.md");
  std::stringstream kept;
  kept << again.rdbuf();
  EXPECT_EQ(kept.str(), "# My notes\n");
  std::filesystem::remove_all(dir);
}

TEST(DatasetCard, AChatDatasetIsDescribedAsConversations) {
  Manifest m = finished_run();
  m.config.emplace_back("format", "chat");
  std::string card = format_dataset_card(m, Options{});
  EXPECT_EQ(card.find("`\"synthetic\": true`"), std::string::npos) << card;
  EXPECT_NE(card.find("Each record is one conversation"), std::string::npos) << card;
  // And a records-format one carries the label.
  m.config.back().second = "records";
  EXPECT_NE(format_dataset_card(m, Options{}).find("`\"synthetic\": true`"), std::string::npos);
  EXPECT_NE(format_dataset_card(m, Options{}).find("`below-threshold.jsonl` the judged records"),
            std::string::npos);
}

}  // namespace
}  // namespace personagen
