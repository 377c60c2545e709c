// URL parsing and the route-pattern matcher the provider tables rely on.
#include <gtest/gtest.h>

#include "http/internal/facts.h"

namespace dualkey::http::internal {
namespace {

Url MustParse(std::string_view text, std::string_view host = "") {
  Url url;
  std::string error;
  EXPECT_TRUE(ParseUrl(text, host, &url, &error)) << error;
  return url;
}

TEST(HttpUrl, SchemeHostPortPathQuery) {
  Url url = MustParse("HTTPS://User:pw@API.Example.COM.:8443/a/b%2Fc/?x=1&y=a+b&z=%41#frag");
  EXPECT_EQ(url.scheme, "https");
  EXPECT_EQ(url.host, "api.example.com");
  EXPECT_EQ(url.port, 8443);
  EXPECT_EQ(url.segments, (std::vector<std::string>{"a", "b/c"}));
  ASSERT_EQ(url.query.size(), 3u);
  EXPECT_EQ(url.query[1].second, "a b");
  EXPECT_EQ(url.query[2].second, "A");
}

TEST(HttpUrl, DefaultsAndShapes) {
  EXPECT_EQ(MustParse("http://h").port, 80);
  EXPECT_EQ(MustParse("https://h").port, 443);
  EXPECT_EQ(MustParse("h.example/x").host, "h.example");
  EXPECT_EQ(MustParse("http://[::1]:9200/i").host, "::1");
  EXPECT_EQ(MustParse("http://[::1]:9200/i").port, 9200);
  EXPECT_EQ(MustParse("/x/y", "api.github.com").host, "api.github.com");
}

TEST(HttpUrl, DotSegmentsAndEmptySegmentsAreNormalised) {
  EXPECT_EQ(MustParse("https://h//repos/./o/r/issues/../../").path, "/repos/o");
  // An encoded slash stays inside its segment, as servers route it.
  EXPECT_EQ(MustParse("https://h/a/..%2fb").segments.back(), "../b");
  EXPECT_EQ(MustParse("https://h/a/%2e%2e/b").path, "/b");
}

TEST(HttpUrl, Rejects) {
  Url url;
  std::string error;
  EXPECT_FALSE(ParseUrl("", "", &url, &error));
  EXPECT_FALSE(ParseUrl("https://", "", &url, &error));
  EXPECT_FALSE(ParseUrl("https://h:0/", "", &url, &error));
  EXPECT_FALSE(ParseUrl("https://h:abc/", "", &url, &error));
  EXPECT_FALSE(ParseUrl("https://h$x/", "", &url, &error));
  EXPECT_FALSE(ParseUrl("https://[::1/", "", &url, &error));
  EXPECT_FALSE(ParseUrl("https://h/a b", "", &url, &error));
  EXPECT_NE(error.find("bad URL"), std::string::npos);
}

TEST(HttpUrl, PercentDecodeKeepsBadEscapes) {
  EXPECT_EQ(PercentDecode("%zz%4", false), "%zz%4");
  EXPECT_EQ(PercentDecode("a+b%20c", true), "a b c");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
}

TEST(HttpGlob, Matches) {
  EXPECT_TRUE(GlobMatch("*.s3.amazonaws.com", "b.s3.amazonaws.com"));
  EXPECT_FALSE(GlobMatch("*.s3.amazonaws.com", "s3.amazonaws.com"));
  EXPECT_TRUE(GlobMatch("s3.*.amazonaws.com", "s3.eu-west-1.amazonaws.com"));
  EXPECT_FALSE(GlobMatch("*.s3.*.amazonaws.com", "s3.eu-west-1.amazonaws.com"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("A*c", "abbbc"));
}

TEST(HttpJsonDepth, CountsOutsideStrings) {
  EXPECT_EQ(JsonDepth(R"({"a":[{"b":"[[[["}]})"), 3u);
  EXPECT_EQ(JsonDepth("[]"), 1u);
}

}  // namespace
}  // namespace dualkey::http::internal
