#include "util/byte_size.h"

#include <gtest/gtest.h>

namespace personagen {
namespace {

TEST(ByteSize, ParsesBytesAndBinaryUnits) {
  EXPECT_EQ(parse_byte_size("900"), 900u);
  EXPECT_EQ(parse_byte_size("4G"), size_t{4} << 30);
  EXPECT_EQ(parse_byte_size("4GiB"), size_t{4} << 30);
  EXPECT_EQ(parse_byte_size("4gb"), std::nullopt);  // "b" after a unit is not bytes: say B
  EXPECT_EQ(parse_byte_size("512M"), size_t{512} << 20);
  EXPECT_EQ(parse_byte_size("512m"), size_t{512} << 20);
  EXPECT_EQ(parse_byte_size("1.5K"), 1536u);
  EXPECT_EQ(parse_byte_size("2T"), size_t{2} << 40);
  EXPECT_EQ(parse_byte_size("64B"), 64u);
}

TEST(ByteSize, RefusesWhatIsNotASize) {
  for (const char* text :
       {"", "G", ".", "-1G", "0", "0.1", "4X", "4GG", "1e3", "4 G", "99999999T"}) {
    EXPECT_EQ(parse_byte_size(text), std::nullopt) << text;
  }
}

TEST(ByteSize, FormatsForMessages) {
  EXPECT_EQ(format_byte_size(900), "900 B");
  EXPECT_EQ(format_byte_size(size_t{4} << 30), "4.0 GiB");
  EXPECT_EQ(format_byte_size(size_t{3} << 19), "1.5 MiB");
  EXPECT_GT(physical_memory_bytes(), 0u);
}

}  // namespace
}  // namespace personagen
