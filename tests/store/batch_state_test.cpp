#include "store/batch_state.h"

#include <gtest/gtest.h>

#include "personagen/error.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

class BatchStateTest : public TempDirTest {};

TEST_F(BatchStateTest, WhatIsWrittenIsReadBack) {
  // Given a state with the export's options and a file part-way through a batch run
  BatchState state;
  state.run_id = "pg-run-1";
  state.imported_round = 0;
  state.cancelled = true;
  state.options.inputs = {"/data/a.jsonl", "/data/b.jsonl"};
  state.options.task = "solve";
  state.options.samples = 3;
  state.options.temperature = 0.7;
  state.options.max_tokens = 512;
  state.options.extra_body = R"({"seed":7})";
  state.options.model = "m";
  BatchFile f;
  f.name = "requests-r1-00000.jsonl";
  f.round = 1;
  f.requests = 12;
  f.bytes = 3456;
  f.upload_started = true;
  f.file_id = "file-1";
  f.create_started = true;
  f.batch_id = "batch_1";
  f.status = "in_progress";
  f.completed = 5;
  f.failed = 1;
  f.output_file_id = "file-2";
  state.files.push_back(f);
  // When it is written and read
  write_batch_state(path("batch.json"), state);
  std::optional<BatchState> read = read_batch_state(path("batch.json"));
  // Then everything is as it was
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->run_id, "pg-run-1");
  EXPECT_EQ(read->imported_round, 0);
  EXPECT_TRUE(read->cancelled);
  EXPECT_EQ(read->options.inputs, state.options.inputs);
  EXPECT_EQ(read->options.task, "solve");
  EXPECT_EQ(read->options.samples, 3);
  EXPECT_EQ(read->options.temperature, 0.7);
  EXPECT_EQ(read->options.max_tokens, 512);
  EXPECT_FALSE(read->options.top_p.has_value());
  EXPECT_EQ(read->options.extra_body, state.options.extra_body);
  ASSERT_EQ(read->files.size(), 1u);
  const BatchFile& g = read->files[0];
  EXPECT_EQ(g.name, f.name);
  EXPECT_EQ(g.round, 1);
  EXPECT_EQ(g.requests, 12u);
  EXPECT_EQ(g.bytes, 3456u);
  EXPECT_TRUE(g.upload_started);
  EXPECT_EQ(g.file_id, "file-1");
  EXPECT_EQ(g.batch_id, "batch_1");
  EXPECT_EQ(g.status, "in_progress");
  EXPECT_EQ(g.completed, 5u);
  EXPECT_EQ(g.output_file_id, "file-2");
  EXPECT_FALSE(g.downloaded);
  EXPECT_EQ(read->last_round(), 1);
}

TEST_F(BatchStateTest, AMissingFileIsNoStateAndABadOneAnErrorNamingIt) {
  EXPECT_FALSE(read_batch_state(path("batch.json")).has_value());
  write_file(path("batch.json"), "{\"files\": 3}");
  try {
    read_batch_state(path("batch.json"));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path("batch.json")), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace personagen
