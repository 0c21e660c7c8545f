// batch export and import from the real binary: the requests are synth's byte for byte, results
// from any batch (OpenAI's output and error files, vLLM's run_batch) become synth's records, an
// expired half is sent again exactly once, and a foreign result is refused before anything is
// written.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "e2e/batch_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

class BatchE2E : public E2E {
 protected:
  void SetUp() override {
    E2E::SetUp();
    batch_ = dir_ / "batch";
  }

  // Answers every request of the files starting with `prefix` through the test server, as a
  // batch would, in a shuffled order, into one result file.
  fs::path answer_all(const std::string& prefix, const std::string& name) {
    httplib::Client client("127.0.0.1", server_.port());
    std::vector<std::string> lines;
    for (const ExportedRequest& r : exported_requests(batch_, prefix))
      lines.push_back(result_line(r.custom_id, 200, answer(client, r.body)));
    fs::path path = dir_ / name;
    std::ofstream(path) << shuffled(lines);
    return path;
  }

  TestServer server_;
  fs::path batch_;
};

TEST_F(BatchE2E, ExportThenImportWritesWhatSynthWrites) {
  // Given twelve personas and a bad line
  fs::path input = write_personas("p.jsonl", personas(12));
  std::ofstream(input, std::ios::app) << "not json\n";
  std::vector<std::string> flags = {"-i", input, "-t", "math", "-m", "persona-few-shot"};
  auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
    head.insert(head.end(), flags.begin(), flags.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  // When synth runs them, and batch export writes them five requests to a file
  Result synth = run(with({"synth"}, {"-o", dir_ / "synth", "-q"}), server_.base_url());
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  Result exported = run(with({"batch", "export"}, {"-o", batch_, "--batch-max-requests", "5"}), "");
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  // Then the files are cut at five, and each body is what render prints, byte for byte
  EXPECT_TRUE(fs::exists(batch_ / "requests-00002.jsonl"));
  EXPECT_FALSE(fs::exists(batch_ / "requests-00003.jsonl"));
  Result render = run(with({"render"}, {}), "");
  std::vector<ExportedRequest> requests = exported_requests(batch_);
  std::string bodies;
  for (const ExportedRequest& r : requests) bodies += r.raw_body + "\n";
  EXPECT_EQ(bodies, render.out);
  EXPECT_EQ(requests[0].body["model"], "test-model");

  // When the server answers them as a batch, in another order, and the results are imported
  fs::path results = answer_all("requests-", "results.jsonl");
  Result imported = run({"batch", "import", "-i", results, "-o", batch_, "-q"}, "");
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  // Then the records are synth's, the same custom_ids included, but for the timing the test
  // server echoes; and the reject is synth's too
  std::map<std::string, json> from_synth = records_by_id(dir_ / "synth", "math");
  std::map<std::string, json> from_batch = records_by_id(batch_, "math");
  EXPECT_EQ(from_batch.size(), 12u);
  for (const auto& [id, record] : from_synth) {
    ASSERT_TRUE(from_batch.contains(id)) << id;
    for (const auto& [key, value] : record.items())
      EXPECT_EQ(value, from_batch[id][key]) << id << ": " << key;
    EXPECT_EQ(record.size(), from_batch[id].size()) << id;
  }
  EXPECT_EQ(read_file(dir_ / "synth" / "rejects.jsonl"), read_file(batch_ / "rejects.jsonl"));

  // When the same results are imported again
  std::string shard = read_file(shard_files(batch_, "math").front());
  Result again = run({"batch", "import", "-i", results, "-o", batch_, "-q"}, "");
  // Then nothing is added
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(read_file(shard_files(batch_, "math").front()), shard);
}

TEST_F(BatchE2E, AnExpiredHalfIsSentAgainAndImportedExactlyOnce) {
  // Given an export of eight personas
  std::vector<std::string> names = personas(8);
  fs::path input = write_personas("p.jsonl", names);
  ASSERT_EQ(run({"batch", "export", "-i", input, "-t", "math", "-o", batch_, "-q"}, "").exit_code,
            0);
  // And a batch that ran half of them before it expired: the output file has that half, the
  // error file the rest
  httplib::Client client("127.0.0.1", server_.port());
  std::vector<ExportedRequest> requests = exported_requests(batch_);
  ASSERT_EQ(requests.size(), 8u);
  std::string output, errors;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (i % 2 == 0)
      output += result_line(requests[i].custom_id, 200, answer(client, requests[i].body));
    else
      errors += expired_line(requests[i].custom_id);
  }
  std::ofstream(dir_ / "output.jsonl") << output;
  std::ofstream(dir_ / "errors.jsonl") << errors;
  // When both are imported
  Result first = run({"batch", "import", "-i", dir_ / "output.jsonl", "-i", dir_ / "errors.jsonl",
                      "-o", batch_, "-q"},
                     "");
  // Then the finished half is kept and the rest are failures that never ran
  EXPECT_EQ(first.exit_code, 3) << first.err;
  EXPECT_EQ(read_shards(batch_, "math").size(), 4u);
  std::vector<json> failures = read_jsonl(read_file(batch_ / "failures.jsonl"));
  ASSERT_EQ(failures.size(), 4u);
  EXPECT_EQ(failures[0]["kind"], "not_run");
  EXPECT_TRUE(contains(failures[0]["reason"], "batch_expired")) << failures[0];

  // When the failures are exported again, answered and imported
  Result retry = run({"batch", "export", "--retry-failed", batch_, "-q"}, "");
  ASSERT_EQ(retry.exit_code, 0) << retry.err;
  std::vector<ExportedRequest> again = exported_requests(batch_, "requests-r1-");
  ASSERT_EQ(again.size(), 4u);
  for (size_t i = 0; i < again.size(); ++i)
    EXPECT_EQ(again[i].custom_id, requests[2 * i + 1].custom_id);
  fs::path results = answer_all("requests-r1-", "retry.jsonl");
  Result second = run({"batch", "import", "-i", results, "-o", batch_, "-q"}, "");
  // Then every persona is in the shards exactly once, and nothing failed
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(check_exactly_once(batch_, "math", names));
  EXPECT_TRUE(read_file(batch_ / "failures.jsonl").empty());
  // And importing the first round's files once more adds nothing
  Result stale = run({"batch", "import", "-i", dir_ / "output.jsonl", "-i", dir_ / "errors.jsonl",
                      "-o", batch_, "-q"},
                     "");
  EXPECT_EQ(stale.exit_code, 0) << stale.err;
  EXPECT_TRUE(check_exactly_once(batch_, "math", names));
}

TEST_F(BatchE2E, AResultOfAnotherExportIsRefusedNamingItsFileAndLine) {
  // Given an export of three personas, and results whose second line is for no request of it
  fs::path input = write_personas("p.jsonl", personas(3));
  ASSERT_EQ(run({"batch", "export", "-i", input, "-t", "math", "-o", batch_, "-q"}, "").exit_code,
            0);
  httplib::Client client("127.0.0.1", server_.port());
  std::vector<ExportedRequest> requests = exported_requests(batch_);
  json reply = answer(client, requests[0].body);
  fs::path results = dir_ / "results.jsonl";
  std::ofstream(results) << result_line(requests[0].custom_id, 200, reply)
                         << result_line("pg-not-ours", 200, reply);
  // When they are imported
  Result r = run({"batch", "import", "-i", results, "-o", batch_}, "");
  // Then the import fails naming the file and line, and writes nothing
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, results.string() + ":2: custom_id \"pg-not-ours\"")) << r.err;
  EXPECT_TRUE(shard_files(batch_, "math").empty());
  // And a line that is no batch result is named too
  std::ofstream(results) << "{\"id\": 1}\n";
  Result bad = run({"batch", "import", "-i", results, "-o", batch_}, "");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, results.string() + ":1: no \"custom_id\"")) << bad.err;
}

TEST_F(BatchE2E, VllmRunBatchOutputImports) {
  // Given an export of two personas, and vLLM run_batch's output for it, written from its
  // documented format: a success, and an error with "body": null and the error beside it
  fs::path input = write_personas("p.jsonl", personas(2));
  ASSERT_EQ(run({"batch", "export", "-i", input, "-t", "math", "-o", batch_, "-q"}, "").exit_code,
            0);
  httplib::Client client("127.0.0.1", server_.port());
  std::vector<ExportedRequest> requests = exported_requests(batch_);
  json ok{{"id", "vllm-1"},
          {"custom_id", requests[0].custom_id},
          {"response",
           {{"status_code", 200},
            {"request_id", "vllm-batch-1"},
            {"body", answer(client, requests[0].body)}}},
          {"error", nullptr}};
  json failed{
      {"id", "vllm-2"},
      {"custom_id", requests[1].custom_id},
      {"response", {{"status_code", 400}, {"request_id", "vllm-batch-2"}, {"body", nullptr}}},
      {"error",
       {{"error",
         {{"message", "This model's maximum context length is 16 tokens"},
          {"type", "BadRequestError"},
          {"code", 400}}}}}};
  fs::path results = dir_ / "vllm.jsonl";
  std::ofstream(results) << failed.dump() << "\n" << ok.dump() << "\n";
  // When it is imported
  Result r = run({"batch", "import", "-i", results, "-o", batch_, "-q"}, "");
  // Then the success is a record and the error a failure with vLLM's message
  EXPECT_EQ(r.exit_code, 3) << r.err;
  std::vector<json> records = read_shards(batch_, "math");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["custom_id"], requests[0].custom_id);
  EXPECT_EQ(records[0]["attempts"], 1);
  EXPECT_TRUE(records[0]["usage"].contains("prompt_tokens"));
  std::vector<json> failures = read_jsonl(read_file(batch_ / "failures.jsonl"));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]["status"], 400);
  EXPECT_TRUE(contains(failures[0]["reason"], "maximum context length")) << failures[0];
}

TEST_F(BatchE2E, WhatCannotBeABatchIsRefusedUpFront) {
  fs::path input = write_personas("p.jsonl", personas(2));
  // A conversation needs each reply before its next request
  Result converse = run({"batch", "export", "-i", input, "-t", "converse", "-o", batch_}, "");
  EXPECT_EQ(converse.exit_code, 2);
  EXPECT_TRUE(contains(converse.err, "converse")) << converse.err;
  // An import needs the input again, so stdin cannot be exported
  Result stdin_input = run({"batch", "export", "-i", "-", "-t", "math", "-o", batch_}, "");
  EXPECT_EQ(stdin_input.exit_code, 2);
  // And an import into a directory without an export says so
  Result nothing = run({"batch", "import", "-i", input, "-o", dir_ / "empty"}, "");
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_TRUE(contains(nothing.err, "no batch export here")) << nothing.err;
}

}  // namespace
}  // namespace personagen::e2e
