// Unix sockets by path against the real kernel, with paths that fit in
// sockaddr_un and paths that do not (a CI checkout under a long directory put
// a test's daemon socket at 108 bytes, one past the limit).
#include "base/unix_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;
using dualkey::Result;
using dualkey::Status;
using dualkey::base::ConnectUnixSocket;
using dualkey::base::ListenUnixSocket;
using dualkey::base::UniqueFd;

class UnixSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dualkey-unix-socket-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  // A directory under root_ whose path is at least `length` bytes long.
  std::string DirectoryOfLength(std::size_t length) {
    fs::path dir = root_;
    while (dir.string().size() < length) dir /= std::string(40, 'd');
    fs::create_directories(dir);
    return dir.string();
  }

  // Listen, connect, and carry one byte each way.
  void RoundTrip(const std::string& path) {
    Result<UniqueFd> listening = ListenUnixSocket(path, 4);
    ASSERT_TRUE(listening.ok()) << listening.status().ToString();
    EXPECT_TRUE(fs::is_socket(path)) << path;
    Result<UniqueFd> connected = ConnectUnixSocket(path);
    ASSERT_TRUE(connected.ok()) << connected.status().ToString();
    UniqueFd accepted(accept4(listening->get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_GE(accepted.get(), 0);
    ASSERT_EQ(send(connected->get(), "x", 1, MSG_NOSIGNAL), 1);
    char byte = 0;
    ASSERT_EQ(recv(accepted.get(), &byte, 1, 0), 1);
    EXPECT_EQ(byte, 'x');
    ASSERT_EQ(send(accepted.get(), "y", 1, MSG_NOSIGNAL), 1);
    ASSERT_EQ(recv(connected->get(), &byte, 1, 0), 1);
    EXPECT_EQ(byte, 'y');
  }

  std::string root_;
};

TEST_F(UnixSocket, AShortPathWorks) {
  RoundTrip(root_ + "/d.sock");
}

TEST_F(UnixSocket, PathsAroundAndFarPastTheSockaddrLimitWork) {
  const std::size_t limit = sizeof(sockaddr_un::sun_path);  // 108: 107 bytes and a NUL
  for (std::size_t length : {limit - 8, limit - 1, limit, limit + 1, std::size_t{400}}) {
    const std::string dir = DirectoryOfLength(length - 7);
    const std::string path = dir + "/d.sock";
    SCOPED_TRACE(path.size());
    RoundTrip(path);
    fs::remove(path);
  }
}

TEST_F(UnixSocket, NothingThereIsNotFoundAndADeadSocketIsUnavailable) {
  const std::string dir = DirectoryOfLength(150);
  for (const std::string& path : {root_ + "/none.sock", dir + "/none.sock",
                                  root_ + "/no/such/dir/x.sock", dir + "/no/such/x.sock"}) {
    Result<UniqueFd> missing = ConnectUnixSocket(path);
    ASSERT_FALSE(missing.ok()) << path;
    EXPECT_TRUE(missing.status().Is(Status::Code::kNotFound)) << missing.status().ToString();
    EXPECT_NE(missing.status().message().find(path), std::string::npos);
  }
  for (const std::string& path : {root_ + "/dead.sock", dir + "/dead.sock"}) {
    { ASSERT_TRUE(ListenUnixSocket(path, 1).ok()); }  // closed at once: the file stays
    Result<UniqueFd> dead = ConnectUnixSocket(path);
    ASSERT_FALSE(dead.ok()) << path;
    EXPECT_TRUE(dead.status().Is(Status::Code::kUnavailable)) << dead.status().ToString();
  }
}

TEST_F(UnixSocket, UnusablePathsAreClearErrors) {
  EXPECT_TRUE(ConnectUnixSocket("").status().Is(Status::Code::kInvalidArgument));
  EXPECT_TRUE(ListenUnixSocket("", 1).status().Is(Status::Code::kInvalidArgument));
  EXPECT_TRUE(
      ConnectUnixSocket(std::string("/tmp/a\0b", 8)).status().Is(Status::Code::kInvalidArgument));
  // A file name that alone is longer than sockaddr_un can hold.
  const std::string long_name = root_ + "/" + std::string(200, 'n');
  Result<UniqueFd> refused = ListenUnixSocket(long_name, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().Is(Status::Code::kInvalidArgument));
  EXPECT_NE(refused.status().message().find("too long"), std::string::npos);
  // Listening where a socket already is: an error, not a takeover.
  const std::string taken = root_ + "/taken.sock";
  Result<UniqueFd> first = ListenUnixSocket(taken, 1);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(ListenUnixSocket(taken, 1).ok());
}

}  // namespace
