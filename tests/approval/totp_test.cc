#include <gtest/gtest.h>
#include <qrencode.h>

#include <string>
#include <vector>

#include "approval/approval.h"

namespace dualkey::approval {
namespace {

// RFC 6238 appendix B's SHA-1 seed "12345678901234567890" in base32.
constexpr char kRfcSecret[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

TEST(Totp, Rfc6238Vectors) {
  // The RFC's 8-digit values truncated to 6 digits (the low-order digits).
  const struct {
    std::int64_t time;
    const char* code;
  } kVectors[] = {{59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
                  {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}};
  for (const auto& vector : kVectors) {
    EXPECT_EQ(TotpCode(kRfcSecret, vector.time), vector.code) << "t=" << vector.time;
  }
}

TEST(Totp, SecretDecodingToleratesCaseSpacesAndPadding) {
  EXPECT_EQ(TotpCode("gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 59), "287082");
  EXPECT_EQ(TotpCode("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ", 59), "287082");
  EXPECT_EQ(TotpCode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====", 59), "287082");
  EXPECT_EQ(TotpCode("not base32!", 59), "");
  EXPECT_EQ(TotpCode("", 59), "");
  EXPECT_EQ(TotpCode(kRfcSecret, -1), "");
}

TEST(Totp, CheckAcceptsCurrentAndAdjacentSteps) {
  const std::int64_t now = 1111111111;  // step 37037037
  const std::int64_t step = now / 30;
  for (std::int64_t offset : {-1, 0, 1}) {
    const std::string code = TotpCode(kRfcSecret, now + offset * 30);
    std::int64_t matched = -1;
    ASSERT_TRUE(CheckTotp(kRfcSecret, code, now, &matched)) << offset;
    EXPECT_EQ(matched, step + offset);
  }
}

TEST(Totp, CheckRejectsStepsOutsideTheWindow) {
  const std::int64_t now = 1111111111;
  std::int64_t matched = -1;
  EXPECT_FALSE(CheckTotp(kRfcSecret, TotpCode(kRfcSecret, now - 60), now, &matched));
  EXPECT_FALSE(CheckTotp(kRfcSecret, TotpCode(kRfcSecret, now + 60), now, &matched));
  EXPECT_EQ(matched, -1);
}

TEST(Totp, CheckRejectsMalformedCodes) {
  const std::int64_t now = 59;
  std::int64_t matched = 0;
  EXPECT_TRUE(CheckTotp(kRfcSecret, "287082", now, &matched));
  EXPECT_FALSE(CheckTotp(kRfcSecret, "28708", now, &matched));
  EXPECT_FALSE(CheckTotp(kRfcSecret, "2870820", now, &matched));
  EXPECT_FALSE(CheckTotp(kRfcSecret, "28708a", now, &matched));
  EXPECT_FALSE(CheckTotp(kRfcSecret, " 28708", now, &matched));
  EXPECT_FALSE(CheckTotp(kRfcSecret, "", now, &matched));
  EXPECT_FALSE(CheckTotp("", "287082", now, &matched));
  EXPECT_FALSE(CheckTotp("!!", "287082", now, &matched));
}

TEST(Totp, CheckRejectsAnotherSecretsCode) {
  const std::string other = NewTotpSecret();
  std::int64_t matched = 0;
  int accepted = 0;
  // A foreign code matches by chance with probability 3e-6 per try.
  for (std::int64_t t = 1700000000; t < 1700000000 + 30 * 20; t += 30) {
    accepted += CheckTotp(other, TotpCode(kRfcSecret, t), t, &matched) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 0);
}

TEST(Totp, NewSecretsAre160BitsAndDistinct) {
  const std::string a = NewTotpSecret();
  const std::string b = NewTotpSecret();
  EXPECT_EQ(a.size(), 32u);  // 160 bits / 5 bits per char
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')) << c;
  EXPECT_EQ(TotpCode(a, 1700000000).size(), 6u);
}

TEST(Totp, UriFollowsTheKeyUriFormat) {
  EXPECT_EQ(TotpUri("alice", "ABCDEF"),
            "otpauth://totp/dualkey:alice?secret=ABCDEF&issuer=dualkey&algorithm=SHA1&digits=6"
            "&period=30");
  // A name cannot inject parameters or path segments.
  EXPECT_EQ(TotpUri("bob smith&secret=X/y", "ABC"),
            "otpauth://totp/dualkey:bob%20smith%26secret%3DX%2Fy?secret=ABC&issuer=dualkey"
            "&algorithm=SHA1&digits=6&period=30");
}

// Splits UTF-8 text into glyphs (one code point each).
std::vector<std::vector<std::string>> Glyphs(const std::string& text) {
  std::vector<std::vector<std::string>> lines(1);
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '\n') {
      lines.emplace_back();
      ++i;
      continue;
    }
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : 4;
    lines.back().push_back(text.substr(i, length));
    i += length;
  }
  if (lines.back().empty()) lines.pop_back();
  return lines;
}

TEST(Totp, TerminalQrDrawsTheExactModulesWithAQuietZone) {
  const std::string uri = TotpUri("alice", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  const std::string drawn = TerminalQr(uri);
  ASSERT_FALSE(drawn.empty());
  QRcode* qr = QRcode_encodeString(uri.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  ASSERT_NE(qr, nullptr);
  const int size = qr->width;
  const int total = size + 8;
  const auto lines = Glyphs(drawn);
  ASSERT_EQ(static_cast<int>(lines.size()), (total + 1) / 2);
  int mismatches = 0;
  for (int line = 0; line < static_cast<int>(lines.size()); ++line) {
    ASSERT_EQ(static_cast<int>(lines[line].size()), total) << "line " << line;
    for (int column = 0; column < total; ++column) {
      const std::string& glyph = lines[line][column];
      ASSERT_TRUE(glyph == " " || glyph == "\u2580" || glyph == "\u2584" || glyph == "\u2588")
          << glyph;
      const bool top_light = glyph == "\u2588" || glyph == "\u2580";
      const bool bottom_light = glyph == "\u2588" || glyph == "\u2584";
      for (int half = 0; half < 2; ++half) {
        const int row = line * 2 + half;
        if (row >= total) continue;
        const int r = row - 4;
        const int c = column - 4;
        const bool expected_light =
            r < 0 || c < 0 || r >= size || c >= size || (qr->data[r * size + c] & 1) == 0;
        mismatches += (half == 0 ? top_light : bottom_light) != expected_light ? 1 : 0;
      }
    }
  }
  QRcode_free(qr);
  EXPECT_EQ(mismatches, 0);
}

TEST(ActionHash, IsStableHexSha256) {
  const std::string hash = ActionHash("shell", "rm -rf build", "/home/dev/app", "claude");
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(hash, ActionHash("shell", "rm -rf build", "/home/dev/app", "claude"));
  for (char c : hash) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
}

TEST(ActionHash, EveryFieldAndEveryCharacterCounts) {
  const std::string base = ActionHash("shell", "rm -rf build", "/home/dev/app", "claude");
  EXPECT_NE(base, ActionHash("shell", "rm -rf build ", "/home/dev/app", "claude"));
  EXPECT_NE(base, ActionHash("shell", "rm -rf buile", "/home/dev/app", "claude"));
  EXPECT_NE(base, ActionHash("sql", "rm -rf build", "/home/dev/app", "claude"));
  EXPECT_NE(base, ActionHash("shell", "rm -rf build", "/home/dev/app2", "claude"));
  EXPECT_NE(base, ActionHash("shell", "rm -rf build", "/home/dev/app", "codex"));
}

TEST(ActionHash, FieldBoundariesCannotShift) {
  EXPECT_NE(ActionHash("a", "bc", "", ""), ActionHash("ab", "c", "", ""));
  EXPECT_NE(ActionHash("", "x", "", ""), ActionHash("", "", "x", ""));
  EXPECT_NE(ActionHash("", "", "", ""), ActionHash("", "", "", std::string(1, '\0')));
}

TEST(StateNames, AreStable) {
  EXPECT_EQ(ToString(State::kPending), "pending");
  EXPECT_EQ(ToString(State::kApproved), "approved");
  EXPECT_EQ(ToString(State::kDenied), "denied");
  EXPECT_EQ(ToString(State::kConsumed), "consumed");
  EXPECT_EQ(ToString(State::kExpired), "expired");
}

}  // namespace
}  // namespace dualkey::approval
