#include "base/encoding.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "base/fd.h"
#include "base/text.h"
#include "base/time_text.h"

namespace dualkey::base {
namespace {

TEST(Encoding, HexIsLowerCaseTwoDigitsAByte) {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(Hex(bytes, sizeof bytes), "000fa5ff");
  EXPECT_EQ(Hex(bytes, 0), "");
  EXPECT_EQ(HexValue('7'), 7);
  EXPECT_EQ(HexValue('b'), 11);
  EXPECT_EQ(HexValue('F'), 15);
  EXPECT_EQ(HexValue('g'), -1);
}

TEST(Encoding, Base64RoundTripsAndRefusesWhatIsNot) {
  for (const std::string bytes : {std::string(), std::string("f"), std::string("fo"),
                                  std::string("foo"), std::string("\xff\x00\xfe", 3)}) {
    std::string back;
    ASSERT_TRUE(Unbase64(Base64(bytes), &back)) << bytes;
    EXPECT_EQ(back, bytes);
  }
  EXPECT_EQ(Base64("foob"), "Zm9vYg==");
  std::string out;
  EXPECT_FALSE(Unbase64("Zm9v!", &out));
}

TEST(TimeText, FormatsInUtc) {
  EXPECT_EQ(FormatTime(86'400'000 + 3'723'456, "%Y-%m-%dT%H:%M:%SZ", TimeZone::kUtc),
            "1970-01-02T01:02:03Z");
}

TEST(Fd, ClosesOnceAndWritesAll) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd read_end(fds[0]);
  {
    UniqueFd write_end(fds[1]);
    UniqueFd moved = std::move(write_end);
    EXPECT_EQ(write_end.get(), -1);
    std::size_t written = 0;
    ASSERT_TRUE(WriteFully(moved.get(), "hello", &written));
    EXPECT_EQ(written, 5u);
  }
  char buffer[16];
  EXPECT_EQ(::read(read_end.get(), buffer, sizeof buffer), 5);
  EXPECT_EQ(::read(read_end.get(), buffer, sizeof buffer), 0);  // the write end closed
}

}  // namespace
}  // namespace dualkey::base
