#include "app/run_summary.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <span>
#include <string>

namespace personagen {
namespace {

using nlohmann::json;

TEST(RunSummary, SummaryJson) {
  Totals t;
  t.records = 5;
  t.failed = 1;
  RunSummary s;
  s.status = "some_failed";
  s.exit_code = 3;
  s.output = "out";
  s.totals = &t;
  s.shards = 2;
  json j = json::parse(format_summary_json(s));
  EXPECT_EQ(j["status"], "some_failed");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["totals"]["records"], 5);
  EXPECT_FALSE(j.contains("this_run"));
  // Every summary counts unverified lines and records below --min-score, 0 when none, so a
  // cron check never meets a missing key
  EXPECT_EQ(j["totals"]["unverified"], 0);
  EXPECT_EQ(j["totals"]["below_threshold"], 0);
  t.unverified = 4;
  j = json::parse(format_summary_json(s));
  EXPECT_EQ(j["totals"]["unverified"], 4);
  t.below_threshold = 2;
  j = json::parse(format_summary_json(s));
  EXPECT_EQ(j["totals"]["below_threshold"], 2);
  EXPECT_EQ(j["totals"]["records"], 5);
}

TEST(RunSummary, SummaryJsonOfAnExpansionListsEachHop) {
  // Given an expansion whose hop 1 ended with failures and whose hop 2 was fine,
  Totals hop1, hop2, all;
  hop1.records = 6;
  hop1.failed = 1;
  hop2.records = 18;
  all.records = 24;
  all.failed = 1;
  RunSummary hops[2];
  hops[0].status = "some_failed";
  hops[0].exit_code = 3;
  hops[0].output = "out/hop-1";
  hops[0].totals = &hop1;
  hops[0].shards = 1;
  hops[1].status = "ok";
  hops[1].output = "out/hop-2";
  hops[1].totals = &hop2;
  hops[1].shards = 1;
  RunSummary s;
  s.status = "some_failed";
  s.exit_code = 3;
  s.output = "out";
  s.totals = &all;
  s.shards = 2;
  s.hops = hops;
  s.failed_hop = 1;
  // when the summary is formatted,
  json j = json::parse(format_summary_json(s));
  // then the whole comes first, with the hop that failed, then each hop numbered in order.
  EXPECT_EQ(j["status"], "some_failed");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["output"], "out");
  EXPECT_EQ(j["totals"]["records"], 24);
  EXPECT_EQ(j["failed_hop"], 1);
  ASSERT_EQ(j["hops"].size(), 2u);
  EXPECT_EQ(j["hops"][0]["hop"], 1);
  EXPECT_EQ(j["hops"][0]["status"], "some_failed");
  EXPECT_EQ(j["hops"][0]["output"], "out/hop-1");
  EXPECT_EQ(j["hops"][0]["totals"]["failed"], 1);
  EXPECT_EQ(j["hops"][1]["hop"], 2);
  EXPECT_EQ(j["hops"][1]["status"], "ok");
  EXPECT_EQ(j["hops"][1]["totals"]["records"], 18);
  EXPECT_FALSE(j["hops"][1].contains("message"));
}

TEST(RunSummary, SummaryJsonOfASingleRunHasNoHops) {
  // Given a single run, when its summary is formatted, then it has neither hops nor failed_hop.
  RunSummary s;
  s.status = "ok";
  s.output = "out";
  json j = json::parse(format_summary_json(s));
  EXPECT_FALSE(j.contains("hops"));
  EXPECT_FALSE(j.contains("failed_hop"));
  EXPECT_FALSE(j.contains("message"));
}

TEST(RunSummary, SummaryJsonNeverShowsTheSecret) {
  // Given an error message that echoes the API key twice, in the run and in its hop,
  std::string message = "HTTP 401: key sk-live-123 refused; sk-live-123 is revoked";
  RunSummary hop;
  hop.status = "error";
  hop.message = message;
  RunSummary s;
  s.status = "error";
  s.exit_code = 1;
  s.message = message;
  s.hops = std::span<const RunSummary>(&hop, 1);
  s.failed_hop = 1;
  s.secret = "sk-live-123";
  // when the summary is formatted,
  std::string text = format_summary_json(s);
  // then the key is nowhere in it, and the rest of the message is.
  EXPECT_EQ(text.find("sk-live-123"), std::string::npos) << text;
  json j = json::parse(text);
  EXPECT_EQ(j["message"], "HTTP 401: key *** refused; *** is revoked");
  EXPECT_EQ(j["hops"][0]["message"], "HTTP 401: key *** refused; *** is revoked");
}

}  // namespace
}  // namespace personagen
