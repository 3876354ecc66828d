#include "s3_error.h"

#include <gtest/gtest.h>

namespace dk::s3 {
namespace {

HttpResponse Response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body.assign(body.begin(), body.end());
  return r;
}

Status FromCode(int http, const std::string& code) {
  return StatusFromHttpResponse(Response(http, "<Error><Code>" + code +
                                                   "</Code><Message>m</Message>"
                                                   "<RequestId>RID</RequestId></Error>"),
                                "GET b/k");
}

TEST(S3ErrorTest, MapsCodesToStatus) {
  struct Case {
    int http;
    const char* code;
    StatusCode want;
    bool retryable;
  };
  const Case cases[] = {
      {403, "AccessDenied", StatusCode::kPermissionDenied, false},
      {403, "SignatureDoesNotMatch", StatusCode::kPermissionDenied, false},
      {403, "InvalidAccessKeyId", StatusCode::kPermissionDenied, false},
      {400, "ExpiredToken", StatusCode::kPermissionDenied, false},
      {404, "NoSuchBucket", StatusCode::kNotFound, false},
      {404, "NoSuchKey", StatusCode::kNotFound, false},
      {404, "NoSuchUpload", StatusCode::kNotFound, false},
      {403, "RequestTimeTooSkewed", StatusCode::kFailedPrecondition, false},
      {500, "InternalError", StatusCode::kUnavailable, true},
      {503, "SlowDown", StatusCode::kUnavailable, true},
      {503, "ServiceUnavailable", StatusCode::kUnavailable, true},
      {400, "RequestTimeout", StatusCode::kUnavailable, true},
      {429, "TooManyRequests", StatusCode::kUnavailable, true},
      {400, "XAmzContentSHA256Mismatch", StatusCode::kCorruption, true},
      {400, "BadDigest", StatusCode::kCorruption, true},
      {400, "EntityTooSmall", StatusCode::kInvalidArgument, false},
      {400, "InvalidPart", StatusCode::kInvalidArgument, false},
      {416, "InvalidRange", StatusCode::kInvalidArgument, false},
      {412, "PreconditionFailed", StatusCode::kFailedPrecondition, false},
      {409, "BucketNotEmpty", StatusCode::kConflict, false},
  };
  for (const Case& c : cases) {
    const Status s = FromCode(c.http, c.code);
    EXPECT_EQ(s.code(), c.want) << c.code << ": " << s;
    EXPECT_EQ(s.retryable(), c.retryable) << c.code;
    EXPECT_NE(s.message().find(std::string("S3 ") + c.code + ": m"), std::string::npos) << s;
    EXPECT_NE(s.message().find("HTTP " + std::to_string(c.http)), std::string::npos) << s;
    EXPECT_NE(s.message().find("request id RID"), std::string::npos) << s;
    EXPECT_EQ(s.message().rfind("GET b/k", 0) == 0 || c.want == StatusCode::kFailedPrecondition,
              true)
        << s;
  }
}

TEST(S3ErrorTest, ClockSkewMessageSaysClockSkew) {
  const Status s = StatusFromHttpResponse(
      Response(403,
               "<Error><Code>RequestTimeTooSkewed</Code><Message>too large</Message>"
               "<RequestTime>20240101T000000Z</RequestTime>"
               "<ServerTime>2024-01-01T01:00:00Z</ServerTime></Error>"),
      "PUT b/k");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message().rfind("clock skew:", 0), 0u) << s;
  EXPECT_NE(s.message().find("request time 20240101T000000Z, server time 2024-01-01T01:00:00Z"),
            std::string::npos)
      << s;
}

TEST(S3ErrorTest, BodylessResponsesUseTheHttpStatus) {
  EXPECT_EQ(StatusFromHttpResponse(Response(404, ""), "HEAD b/k").code(), StatusCode::kNotFound);
  EXPECT_EQ(StatusFromHttpResponse(Response(403, ""), "HEAD b/k").code(),
            StatusCode::kPermissionDenied);
  const Status s = StatusFromHttpResponse(Response(503, ""), "HEAD b/k");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(s.retryable());
  EXPECT_NE(s.message().find("ServiceUnavailable"), std::string::npos);
}

TEST(S3ErrorTest, NonS3BodiesAreQuotedShortly) {
  const Status s =
      StatusFromHttpResponse(Response(502, "<html>\n<body>Bad Gateway from the proxy" +
                                               std::string(1000, '!') + "</body></html>"),
                             "GET b/k");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("non-S3 response body: <html> <body>Bad Gateway"), std::string::npos)
      << s;
  EXPECT_LT(s.message().size(), 400u);
}

}  // namespace
}  // namespace dk::s3
