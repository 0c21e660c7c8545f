// End-to-end: growing a persona hub (text-to-persona, persona-to-persona hops, dedup) and the
// run-management flags (--retry-failed, --max-failures, selection), on the real binary.
#include <gtest/gtest.h>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

std::vector<json> read_all(const fs::path& file) {
  return read_jsonl(read_file(file));
}

TEST_F(E2E, GrowAHubThenSynthesizeFromIt) {
  TestServer server;
  fs::path texts = write_texts(dir_ / "texts.jsonl", 5);

  // Given 5 texts, when text-to-persona runs with two relations, then each text yields one
  // persona record per relation, sourced to the text's id.
  Result t2p = run({"synth", "-t", "text-to-persona", "-i", texts, "--field", "text", "--relation",
                    "read,dislike", "-m", "few-shot", "-o", dir_ / "t2p", "-q"},
                   server.base_url());
  ASSERT_EQ(t2p.exit_code, 0) << t2p.err;
  std::vector<json> seeds = read_shards(dir_ / "t2p", "text-to-persona");
  ASSERT_EQ(seeds.size(), 10u);
  std::map<std::string, int> relations;
  for (const json& r : seeds) {
    EXPECT_EQ(r["source"].get<std::string>().rfind("text-", 0), 0u);
    EXPECT_EQ(r["hop"], 0);
    EXPECT_EQ(r["synthetic"], true);
    ++relations[r["relation"]];
  }
  EXPECT_EQ(relations["read"], 5);
  EXPECT_EQ(relations["dislike"], 5);

  // When persona-to-persona expands them for two hops, then each hop's personas are the next
  // hop's input, and every record points at its parent.
  fs::path seeds_file = shard_files(dir_ / "t2p", "text-to-persona").at(0);
  Result p2p = run({"synth", "-t", "persona-to-persona", "-i", seeds_file, "--hops", "2", "-o",
                    dir_ / "p2p", "-q"},
                   server.base_url());
  ASSERT_EQ(p2p.exit_code, 0) << p2p.err;
  std::vector<json> hop1 = read_all(dir_ / "p2p/hop-1/persona-to-persona-00000.jsonl");
  std::vector<json> hop2 = read_all(dir_ / "p2p/hop-2/persona-to-persona-00000.jsonl");
  ASSERT_EQ(hop1.size(), 30u);  // the test server answers three related personas
  ASSERT_EQ(hop2.size(), 90u);
  std::set<std::string> seed_ids, hop1_ids;
  for (const json& r : seeds) seed_ids.insert(r["custom_id"]);
  for (const json& r : hop1) {
    hop1_ids.insert(r["custom_id"]);
    EXPECT_TRUE(seed_ids.contains(r["source"])) << r.dump();
    EXPECT_EQ(r["hop"], 1);
  }
  for (const json& r : hop2) {
    EXPECT_TRUE(hop1_ids.contains(r["source"])) << r.dump();
    EXPECT_EQ(r["hop"], 2);
  }

  // A rerun of the same expansion does nothing more.
  size_t requests = server.chat_request_count();
  EXPECT_EQ(run({"synth", "-t", "persona-to-persona", "-i", seeds_file, "--hops", "2", "-o",
                 dir_ / "p2p", "-q"},
                server.base_url())
                .exit_code,
            0);
  EXPECT_EQ(server.chat_request_count(), requests);

  // When dedup runs over the hop with duplicates added, then exact and near duplicates go.
  fs::path merged = dir_ / "hub.jsonl";
  {
    std::ofstream out(merged);
    for (const json& r : hop2) out << r.dump() << "\n";
    for (int i = 0; i < 5; ++i) out << json{{"persona", hop2[i]["persona"]}}.dump() << "\n";
    out << json{{"persona", "  " + hop2[7]["persona"].get<std::string>() + "  "}}.dump() << "\n";
  }
  Result dedup = run(
      {"dedup", "-i", merged, "-o", dir_ / "hub.dedup.jsonl", "--report", dir_ / "report.jsonl"},
      server.base_url());
  ASSERT_EQ(dedup.exit_code, 0) << dedup.err;
  std::vector<json> kept = read_all(dir_ / "hub.dedup.jsonl");
  std::set<std::string> unique;
  for (const json& r : hop2) unique.insert(r["persona"]);
  EXPECT_EQ(kept.size(), unique.size());
  EXPECT_EQ(read_all(dir_ / "report.jsonl").size(), 96u - unique.size());

  // When synth runs on the deduplicated hub, then every kept persona gets one record.
  Result math =
      run({"synth", "-t", "math", "-i", dir_ / "hub.dedup.jsonl", "-o", dir_ / "math", "-q"},
          server.base_url());
  ASSERT_EQ(math.exit_code, 0) << math.err;
  std::vector<json> records = read_shards(dir_ / "math", "math");
  EXPECT_EQ(records.size(), kept.size());
  // The persona record's custom_id becomes the synthesized record's persona_id.
  EXPECT_TRUE(records[0].contains("persona_id")) << records[0].dump();
}

TEST_F(E2E, PersonaToPersonaRetriesARepliesThatIsNotAList) {
  // Given a reply that is plain text once ("this is not json"), when persona-to-persona asks
  // for a JSON array, then the reply is retried and the second answer is used.
  TestServer server;
  fs::path input = write_personas("in.jsonl", {"A potter [[fault:badjson*1]]", "A baker"});
  Result r = run({"synth", "-t", "persona-to-persona", "-i", input, "-o", dir_ / "out", "-q"},
                 server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, int> attempts;
  for (const json& rec : read_shards(dir_ / "out/hop-1", "persona-to-persona"))
    attempts[rec["input"]] = rec["attempts"];
  EXPECT_EQ(attempts["A potter [[fault:badjson*1]]"], 2);
  EXPECT_EQ(attempts["A baker"], 1);
}

TEST_F(E2E, RaisingHopsLaterExtendsTheExpansion) {
  // Given persona-to-persona run with the default single hop,
  TestServer server;
  fs::path input = write_personas("in.jsonl", {"A potter", "A baker"});
  std::vector<std::string> args{"synth", "-t", "persona-to-persona", "-i",
                                input,   "-o", dir_ / "out",         "-q"};
  Result one = run(args, server.base_url());
  ASSERT_EQ(one.exit_code, 0) << one.err;
  // then hop 1 is in its own directory, like every hop,
  EXPECT_EQ(read_shards(dir_ / "out/hop-1", "persona-to-persona").size(), 6u);
  EXPECT_TRUE(shard_files(dir_ / "out", "persona-to-persona").empty());
  EXPECT_FALSE(fs::exists(dir_ / "out/manifest.json"));
  EXPECT_EQ(server.chat_request_count(), 2u);

  // and when the same command runs with --hops 2, then hop 1 is not asked again: only hop 2's
  // six requests are made, from hop 1's personas.
  args.insert(args.end(), {"--hops", "2"});
  Result two = run(args, server.base_url());
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(server.chat_request_count(), 2u + 6u);
  EXPECT_EQ(read_shards(dir_ / "out/hop-1", "persona-to-persona").size(), 6u);
  std::vector<json> hop2 = read_shards(dir_ / "out/hop-2", "persona-to-persona");
  ASSERT_EQ(hop2.size(), 18u);
  for (const json& r : hop2) EXPECT_EQ(r["hop"], 2);
}

TEST_F(E2E, SelectionFlagsChooseTheSeedsAndEveryLaterHopExpandsAll) {
  // Given ten seeds and one of two parts,
  TestServer server;
  fs::path input = write_personas("in.jsonl", personas(10, "A seed"));
  // when persona-to-persona expands its part for two hops,
  Result r = run({"synth", "-t", "persona-to-persona", "-i", input, "--part", "0/2", "--hops", "2",
                  "-o", dir_ / "out", "-q"},
                 server.base_url());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // then hop 1 asks for the seeds in the part, and hop 2 for every persona hop 1 made (three
  // each), not only for those that happen to hash into the part again.
  const size_t seeds = read_shards(dir_ / "out/hop-1", "persona-to-persona").size() / 3;
  ASSERT_GT(seeds, 0u);
  ASSERT_LT(seeds, 10u);
  EXPECT_EQ(read_shards(dir_ / "out/hop-2", "persona-to-persona").size(), seeds * 9);
  EXPECT_EQ(server.chat_request_count(), seeds + seeds * 3);
}

TEST_F(E2E, TheSummaryOfAnExpansionCoversEveryHop) {
  // Given three personas of which one always fails in hop 1 (the related personas hop 2 reads
  // carry no fault; it is not the first, which would stop the run as misconfigured),
  TestServer server;
  fs::path input =
      write_personas("in.jsonl", {"A baker", "A potter [[fault:404*always]]", "A weaver"});
  fs::path summary = dir_ / "summary.json";
  // when persona-to-persona expands them for two hops,
  const std::vector<std::string> args{
      "synth", "-t", "persona-to-persona", "-i",        input,   "--hops",
      "2",     "-o", dir_ / "out",         "--summary", summary, "-q"};
  Result r = run(args, server.base_url());
  // then the run exits 3, and the summary says so for the whole expansion, not just hop 2:
  // totals summed over the hops, hop 1 named as the one that failed, and each hop's own outcome.
  EXPECT_EQ(r.exit_code, 3) << r.err;
  json s = json::parse(read_file(summary));
  EXPECT_EQ(s["status"], "some_failed") << s.dump();
  EXPECT_EQ(s["exit_code"], 3);
  EXPECT_EQ(s["output"], (dir_ / "out").string());
  EXPECT_EQ(s["totals"]["records"], 6 + 18);
  EXPECT_EQ(s["totals"]["failed"], 1);
  EXPECT_EQ(s["this_run"]["requests"], 3 + 6);
  EXPECT_EQ(s["shards"], 2);
  EXPECT_EQ(s["failed_hop"], 1);
  ASSERT_EQ(s["hops"].size(), 2u);
  EXPECT_EQ(s["hops"][0]["hop"], 1);
  EXPECT_EQ(s["hops"][0]["status"], "some_failed");
  EXPECT_EQ(s["hops"][0]["output"], (dir_ / "out/hop-1").string());
  EXPECT_EQ(s["hops"][0]["totals"]["failed"], 1);
  EXPECT_EQ(s["hops"][1]["status"], "ok");
  EXPECT_EQ(s["hops"][1]["totals"]["records"], 18);

  // When the expansion is rerun with nothing left to do, then the summary still covers both hops.
  Result again = run(args, server.base_url());
  EXPECT_EQ(again.exit_code, 3) << again.err;
  json rerun = json::parse(read_file(summary));
  EXPECT_EQ(rerun["status"], "some_failed") << rerun.dump();
  EXPECT_EQ(rerun["failed_hop"], 1);
  EXPECT_EQ(rerun["totals"]["records"], 6 + 18);
}

TEST_F(E2E, AnExpansionInTheOldSingleHopLayoutIsRefused) {
  // Given an output directory that holds a single-hop persona-to-persona run written before
  // every hop had its own directory,
  TestServer server;
  fs::path input = write_personas("in.jsonl", {"A potter"});
  fs::create_directories(dir_ / "out");
  std::ofstream(dir_ / "out/manifest.json") << "{}\n";
  // when persona-to-persona runs into it, then it refuses with exit 2, saying where to move it,
  // and asks nothing.
  Result r = run({"synth", "-t", "persona-to-persona", "-i", input, "-o", dir_ / "out", "-q"},
                 server.base_url());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("hop-1"), std::string::npos) << r.err;
  EXPECT_EQ(server.chat_request_count(), 0u);
  EXPECT_FALSE(fs::exists(dir_ / "out/hop-1"));
}

TEST_F(E2E, RetryFailedRerequestsOnlyTheFailures) {
  TestServer server;
  std::vector<std::string> list = personas(20);
  list[3] += " [[fault:404*1]]";
  list[11] += " [[fault:404*1]]";
  fs::path input = write_personas("in.jsonl", list);
  std::vector<std::string> args{"synth", "-i",         input,          "-t", "math",
                                "-o",    dir_ / "out", "--shard-size", "8",  "-q"};
  ASSERT_EQ(run(args, server.base_url()).exit_code, 3);
  EXPECT_EQ(read_all(dir_ / "out/failures.jsonl").size(), 2u);
  size_t before = server.chat_request_count();

  // The 404s were one-off: a retry pass asks again for exactly those two.
  args.push_back("--retry-failed");
  Result retry = run(args, server.base_url());
  ASSERT_EQ(retry.exit_code, 0) << retry.err;
  EXPECT_EQ(server.chat_request_count(), before + 2);
  EXPECT_TRUE(check_exactly_once(dir_ / "out", "math", list));
  EXPECT_FALSE(fs::exists(dir_ / "out/failures.retry.jsonl"));
  EXPECT_TRUE(!fs::exists(dir_ / "out/failures.jsonl") ||
              fs::file_size(dir_ / "out/failures.jsonl") == 0);
}

TEST_F(E2E, MaxFailuresStopsABrokenRunEarlyAndItResumes) {
  TestServer server;
  std::vector<std::string> list = personas(300);
  for (auto& p : list) p += " [[fault:503*always]]";
  fs::path input = write_personas("in.jsonl", list);
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "--max-failures", "5",
                  "--max-retries", "0", "-j", "4", "-q"},
                 server.base_url());
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("--max-failures"), std::string::npos) << r.err;
  EXPECT_LT(server.chat_request_count(), 50u);
  // Resumable: the manifest is a checkpoint, not a finished run.
  json manifest = json::parse(read_file(dir_ / "out/manifest.json"));
  EXPECT_EQ(manifest["complete"], false);
}

TEST_F(E2E, MaxRejectsFailsARunWithTooManyBadLines) {
  // Given 10 lines of which 4 are not JSON, when --max-rejects allows 2, then the run fails
  // with exit code 4, naming the flag; with 5 allowed it succeeds.
  TestServer server;
  fs::path input = dir_ / "in.jsonl";
  {
    std::ofstream out(input);
    for (int i = 0; i < 10; ++i)
      out << (i % 3 == 0 ? std::string("not json")
                         : json{{"persona", "p" + std::to_string(i)}}.dump())
          << "\n";
  }
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "a", "--max-rejects", "2", "-q"},
                 server.base_url());
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("--max-rejects"), std::string::npos) << r.err;
  Result ok =
      run({"synth", "-i", input, "-t", "math", "-o", dir_ / "b", "--max-rejects", "50%", "-q"},
          server.base_url());
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(read_all(dir_ / "b/rejects.jsonl").size(), 4u);
}

TEST_F(E2E, RateLimitFlagsDelayButLoseNothing) {
  // Given --rpm 600 (10 a second, with a one-second burst), when 25 personas run, then they
  // all arrive exactly once and the run takes at least the second the bucket needs to refill.
  TestServer server;
  std::vector<std::string> list = personas(25);
  fs::path input = write_personas("in.jsonl", list);
  auto start = std::chrono::steady_clock::now();
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "--rpm", "600", "--tpm",
                  "10000000", "-q"},
                 server.base_url());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(check_exactly_once(dir_ / "out", "math", list));
  EXPECT_GE(seconds, 1.0);
}

TEST_F(E2E, PartsSplitARunOverMachinesWithoutOverlapOrGaps) {
  // Given 90 personas and 3 parts, each run into its own directory as 3 machines would
  TestServer server;
  auto input = write_personas("in.jsonl", personas(90));
  std::multiset<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    const fs::path out = dir_ / ("part-" + std::to_string(i));
    Result r = run(
        {"synth", "-i", input, "-t", "math", "-o", out, "--part", std::to_string(i) + "/3", "-q"},
        server.base_url());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const json& record : read_shards(out, "math")) seen.insert(record["persona"]);
  }
  // Then every persona is made exactly once over the parts
  const std::vector<std::string> all = personas(90);
  EXPECT_EQ(seen, std::multiset<std::string>(all.begin(), all.end()));
  EXPECT_EQ(server.chat_request_count(), 90u);

  // And a directory of one part refuses to go on as another part
  Result other = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "part-0", "--part", "1/3"},
                     server.base_url());
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("part was \"0/3\", now \"1/3\""), std::string::npos) << other.err;
}

TEST_F(E2E, SelectionFlagsPickPersonasAndSampleIsDeterministic) {
  TestServer server;
  fs::path input = dir_ / "in.jsonl";
  {
    std::ofstream out(input);
    for (int i = 0; i < 40; ++i)
      out << json{{"persona", (i % 4 == 0 ? "A nurse " : "A farmer ") + std::to_string(i)},
                  {"domain", i % 2 ? "Math" : "None"}}
                 .dump()
          << "\n";
  }
  Result match =
      run({"render", "-i", input, "-t", "math", "--match", "NURSE", "--where", "domain!=Math"},
          server.base_url());
  ASSERT_EQ(match.exit_code, 0) << match.err;
  EXPECT_EQ(read_jsonl(match.out).size(), 10u);

  auto sampled = [&](const std::string& seed) {
    Result r = run({"render", "-i", input, "-t", "math", "--sample", "7", "--seed", seed},
                   server.base_url());
    return r.out;
  };
  EXPECT_EQ(read_jsonl(sampled("1")).size(), 7u);
  EXPECT_EQ(sampled("1"), sampled("1"));
  EXPECT_NE(sampled("1"), sampled("2"));

  Result synth =
      run({"synth", "-i", input, "-t", "math", "--exclude", "farmer", "-o", dir_ / "out", "-q"},
          server.base_url());
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  EXPECT_EQ(read_shards(dir_ / "out", "math").size(), 10u);
}

}  // namespace
}  // namespace personagen::e2e
