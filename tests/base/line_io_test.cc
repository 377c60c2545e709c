#include "base/line_io.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace dualkey::base {
namespace {

// Lines come back whole and in order however the bytes arrive: several in
// one read, one across many, and a read that ends just at a line's end (the
// line is then handed over from the buffer, not copied).
TEST(LineIo, LinesComeBackWholeAndInOrderHoweverTheyArrive) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const std::string long_line(200000, 'x');
  std::thread writer([&] {
    ASSERT_TRUE(WriteAll(fds[1], "a\nbb\n"));
    ASSERT_TRUE(WriteAll(fds[1], "cc"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(WriteAll(fds[1], "c\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(WriteAll(fds[1], long_line + "\nd\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(WriteAll(fds[1], "\n"));  // an empty line alone
    close(fds[1]);
  });
  std::string buffer, line;
  for (const std::string& expected : {std::string("a"), std::string("bb"), std::string("ccc"),
                                      long_line, std::string("d"), std::string()}) {
    ASSERT_TRUE(ReadLine(fds[0], &buffer, &line, 5000)) << expected.size();
    EXPECT_EQ(line, expected);
  }
  EXPECT_FALSE(ReadLine(fds[0], &buffer, &line, 5000));  // closed
  writer.join();
  close(fds[0]);
}

}  // namespace
}  // namespace dualkey::base
