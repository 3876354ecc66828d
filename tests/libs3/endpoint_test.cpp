#include "endpoint.h"

#include <gtest/gtest.h>

namespace dk::s3 {
namespace {

TEST(EndpointTest, ParsesSchemeHostAndPort) {
  Result<Endpoint> e = ParseEndpoint("http://127.0.0.1:9000");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->scheme, "http");
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 9000);
  EXPECT_FALSE(e->default_port);
  EXPECT_EQ(e->HostPort(), "127.0.0.1:9000");
  EXPECT_EQ(e->Url(), "http://127.0.0.1:9000");
  EXPECT_TRUE(e->HostIsIpLiteral());
}

TEST(EndpointTest, DefaultPortsAreLeftOutOfTheHostHeader) {
  Result<Endpoint> e = ParseEndpoint("https://s3.eu-west-1.amazonaws.com/");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->port, 443);
  EXPECT_TRUE(e->default_port);
  EXPECT_EQ(e->HostPort(), "s3.eu-west-1.amazonaws.com");
  EXPECT_FALSE(e->HostIsIpLiteral());
  e = ParseEndpoint("http://minio:80");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->HostPort(), "minio");
}

TEST(EndpointTest, HostIsLowerCased) {
  Result<Endpoint> e = ParseEndpoint("https://S3.Example.COM:8443");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->HostPort(), "s3.example.com:8443");
}

TEST(EndpointTest, ParsesIpv6Literals) {
  Result<Endpoint> e = ParseEndpoint("http://[::1]:7070");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "[::1]");
  EXPECT_EQ(e->port, 7070);
  EXPECT_EQ(e->HostPort(), "[::1]:7070");
  EXPECT_TRUE(e->HostIsIpLiteral());
}

TEST(EndpointTest, RejectsWhatCannotBeAnEndpoint) {
  for (const char* bad : {"", "s3.amazonaws.com", "ftp://h", "http://", "http://:80", "http://h:0",
                          "http://h:65536", "http://h:x", "http://h:", "http://h/bucket",
                          "http://h?x=1", "http://u:p@h", "http://[::1", "http://[::1]x"}) {
    Result<Endpoint> e = ParseEndpoint(bad);
    EXPECT_FALSE(e.ok()) << bad;
    if (!e.ok()) {
      EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace dk::s3
