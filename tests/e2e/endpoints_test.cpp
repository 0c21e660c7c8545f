// Several --base-url endpoints: the real binary balancing over local test servers, one of them
// dead, and the command-line forms of the endpoint list.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::TestServer;

// A URL on 127.0.0.1 where nothing listens: a port bound once to learn a free number, then
// closed.
std::string dead_url() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  EXPECT_TRUE(ok);
  return "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1";
}

// How many times a line of `text` contains `needle`.
size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

TEST_F(E2E, SeveralEndpointsShareTheWorkAndADeadOneIsLeftOut) {
  // Given two live servers, a URL where nothing listens, and 200 personas
  TestServer a, b;
  std::string dead = dead_url();
  std::vector<std::string> input_personas = personas(200);
  auto input = write_personas("in.jsonl", input_personas);

  // When synth runs with the three as --base-url (and another dead URL in the environment,
  // which the flags override)
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "-j", "32", "--base-url",
                  a.base_url(), "--base-url", b.base_url(), "--base-url", dead},
                 dead_url());

  // Then every record is written exactly once
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(check_exactly_once(dir_ / "out", "math", input_personas));
  EXPECT_FALSE(fs::exists(dir_ / "out" / "failures.jsonl") &&
               !read_file(dir_ / "out" / "failures.jsonl").empty());

  // And the live servers shared the attempts fairly, while the dead one got far fewer than its
  // third: the attempts the records count, less those the live servers saw
  size_t attempts = 0;
  for (const json& record : read_shards(dir_ / "out", "math"))
    attempts += record["attempts"].get<size_t>();
  size_t to_a = a.chat_request_count(), to_b = b.chat_request_count();
  ASSERT_GE(attempts, to_a + to_b);
  size_t to_dead = attempts - to_a - to_b;
  EXPECT_GE(to_a * 10, attempts * 3) << to_a << " of " << attempts;
  EXPECT_GE(to_b * 10, attempts * 3) << to_b << " of " << attempts;
  EXPECT_LT(to_dead * 6, attempts) << to_dead << " of " << attempts;

  // And one warning named the dead endpoint when it was left out
  EXPECT_EQ(count_of(r.err, "endpoint " + dead + "/chat/completions left out for 5s"), 1u) << r.err;
}

TEST_F(E2E, ARunResumesOverOtherEndpoints) {
  // Given a run interrupted after 8 requests to one slow endpoint
  std::vector<std::string> input_personas = personas(60);
  auto input = write_personas("in.jsonl", input_personas);
  std::vector<std::string> args{"synth", "-i",         input, "-t", "math",
                                "-o",    dir_ / "out", "-j",  "4",  "-q"};
  Result first = interrupted_run(args, 8, 200);
  ASSERT_NE(first.exit_code, 0) << first.err;

  // When it resumes over two other endpoints
  TestServer a, b;
  std::vector<std::string> resumed = args;
  resumed.insert(resumed.end(), {"--base-url", a.base_url(), "--base-url", b.base_url()});
  Result r = run(resumed, dead_url());

  // Then the endpoints are no part of the run's configuration: it resumes, over both, and
  // finishes with every record exactly once
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(check_exactly_once(dir_ / "out", "math", input_personas));
  EXPECT_GT(a.chat_request_count(), 0u);
  EXPECT_GT(b.chat_request_count(), 0u);
  EXPECT_LT(a.chat_request_count() + b.chat_request_count(), 60u);
}

TEST_F(E2E, CommasInTheEnvironmentNameSeveralEndpoints) {
  // Given two live servers listed in $OPENAI_BASE_URL, with blanks and a trailing slash
  TestServer a, b;
  auto input = write_personas("in.jsonl", personas(40));

  // When synth runs without --base-url
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "-j", "4", "-q"},
                 a.base_url() + " , " + b.base_url() + "/");

  // Then both got requests, and every persona has its record
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(a.chat_request_count(), 0u);
  EXPECT_GT(b.chat_request_count(), 0u);
  EXPECT_EQ(a.chat_request_count() + b.chat_request_count(), 40u);
  EXPECT_EQ(read_shards(dir_ / "out", "math").size(), 40u);
}

TEST_F(E2E, AnEndpointNamedTwiceIsAUsageError) {
  // Given one server named twice, once with a trailing slash, in one comma-separated flag
  TestServer a;
  auto input = write_personas("in.jsonl", personas(3));
  fs::path summary = dir_ / "summary.json";

  // When synth runs; then it exits 2 with one line naming the URL, before any request
  Result r = run({"synth", "-i", input, "-t", "math", "-o", dir_ / "out", "--summary", summary,
                  "--base-url", a.base_url() + "," + a.base_url() + "/"},
                 a.base_url());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(a.base_url() + " twice"), std::string::npos) << r.err;
  EXPECT_EQ(count_of(r.err, "\n"), 1u) << r.err;
  EXPECT_EQ(a.chat_request_count(), 0u);
  // And, like every start-up error, it is in the --summary file
  EXPECT_NE(read_file(summary).find("twice"), std::string::npos);

  // And an empty entry is refused the same way
  Result empty = run(
      {"synth", "-i", input, "-t", "math", "-o", dir_ / "out2", "--base-url", a.base_url() + ",,"},
      a.base_url());
  EXPECT_EQ(empty.exit_code, 2) << empty.err;
  EXPECT_NE(empty.err.find("empty URL"), std::string::npos) << empty.err;
}

TEST_F(E2E, DedupFetchesEmbeddingsFromSeveralEndpoints) {
  // Given 30 distinct records and two live servers
  TestServer a, b;
  auto input = write_personas("in.jsonl", personas(30, "dedup"));

  // When dedup's semantic stage fetches one text per request from both
  Result r =
      run({"dedup", "-i", input, "-o", dir_ / "out.jsonl", "--embed-model", "emb", "--batch", "1",
           "-j", "2", "--cosine", "0.9999", "--base-url", a.base_url(), "--base-url", b.base_url()},
          dead_url());

  // Then both served embeddings, 30 in all, and the records are kept
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(a.embedding_requests().size(), 0u);
  EXPECT_GT(b.embedding_requests().size(), 0u);
  EXPECT_EQ(a.embedding_requests().size() + b.embedding_requests().size(), 30u);
  EXPECT_EQ(read_jsonl(read_file(dir_ / "out.jsonl")).size(), 30u);
}

}  // namespace
}  // namespace personagen::e2e
