#include "token/token.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace dualkey::token {
namespace {

std::string Unbase64(const std::string& text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                    text.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL);
  out.resize(len);
  return out;
}

std::string HmacB64(const std::array<std::uint8_t, 32>& key, const std::string& message) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), 32, reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), out, &len);
  char b64[64];
  sodium_bin2base64(b64, sizeof b64, out, 32, sodium_base64_VARIANT_ORIGINAL);
  return b64;
}

// RFC 7677 section 3: the SCRAM-SHA-256 exchange for user "user", password
// "pencil". The server signature is HMAC(ServerKey, AuthMessage).
TEST(TokenTest, ScramVerifierMatchesRfc7677) {
  ScramVerifier v = MakeScramVerifier("pencil", Unbase64("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
  const std::string auth_message =
      "n=user,r=rOprNGfwEbeRWgbNEkqO,"
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  EXPECT_EQ(HmacB64(v.server_key, auth_message), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dualkey-token-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(TokenStoreTest, AddFindRevoke) {
  Store store(dir_);
  auto secret = store.Add("claude-dev", {"pg"});
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_TRUE(secret->starts_with("dk_"));
  EXPECT_EQ(secret->size(), 3u + 43u);

  // A second store (another process) sees it; only hashes are on disk.
  Store other(dir_);
  auto found = other.FindBySecret(*secret);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->name, "claude-dev");
  EXPECT_TRUE(found->Allows("pg"));
  EXPECT_FALSE(found->Allows("http"));
  std::ifstream in(dir_ / "tokens.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.find(secret->substr(3)), std::string::npos);
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "tokens.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Callers branch on codes: no such token is kNotFound, not a failure.
  EXPECT_TRUE(other.FindBySecret(*secret + "x").status().Is(dualkey::Status::Code::kNotFound));
  EXPECT_TRUE(other.FindByName("nobody").status().Is(dualkey::Status::Code::kNotFound));
  EXPECT_TRUE(store.Add("claude-dev", {}).status().Is(dualkey::Status::Code::kFailedPrecondition));
  EXPECT_TRUE(store.Add("bad name", {}).status().Is(dualkey::Status::Code::kInvalidArgument));
  EXPECT_TRUE(store.Add("x", {"root"}).status().Is(dualkey::Status::Code::kInvalidArgument));

  ASSERT_TRUE(store.Revoke("claude-dev").ok());
  EXPECT_FALSE(other.FindBySecret(*secret).ok());
  EXPECT_TRUE(store.Revoke("claude-dev").Is(dualkey::Status::Code::kNotFound));
}

TEST_F(TokenStoreTest, DamagedFileIsAnErrorNotEmpty) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "tokens.json") << "{not json";
  Store store(dir_);
  auto found = store.FindBySecret("dk_x");
  EXPECT_TRUE(found.status().Is(dualkey::Status::Code::kCorruption));
  EXPECT_NE(found.status().message().find("damaged"), std::string::npos);
  EXPECT_FALSE(store.Add("a", {}).ok());
  EXPECT_TRUE(store.List().status().Is(dualkey::Status::Code::kCorruption));
}

}  // namespace
}  // namespace dualkey::token
