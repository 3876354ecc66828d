#include "libkube/api_error.h"

#include <gtest/gtest.h>

namespace dk::kube {
namespace {

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  return nlohmann::json({{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"status", "Failure"},
                         {"message", message},
                         {"reason", reason},
                         {"code", code}})
      .dump();
}

TEST(ApiErrorTest, MapsHttpCodesToStatusCodes) {
  struct Case {
    int http;
    const char* reason;
    StatusCode code;
    bool retryable;
  } cases[] = {
      {404, "NotFound", StatusCode::kNotFound, false},
      {409, "Conflict", StatusCode::kConflict, true},
      {409, "AlreadyExists", StatusCode::kConflict, false},
      {403, "Forbidden", StatusCode::kPermissionDenied, false},
      {401, "Unauthorized", StatusCode::kPermissionDenied, false},
      {422, "Invalid", StatusCode::kInvalidArgument, false},
      {400, "BadRequest", StatusCode::kInvalidArgument, false},
      {415, "UnsupportedMediaType", StatusCode::kInvalidArgument, false},
      {410, "Expired", StatusCode::kFailedPrecondition, false},
      {429, "TooManyRequests", StatusCode::kUnavailable, true},
      {500, "InternalError", StatusCode::kUnavailable, true},
      {503, "ServiceUnavailable", StatusCode::kUnavailable, true},
      {504, "Timeout", StatusCode::kUnavailable, true},
      {418, "Teapot", StatusCode::kInternal, false},
  };
  for (const Case& c : cases) {
    Status s = StatusFromApiResponse(c.http, StatusBody(c.http, c.reason, "the message"), "GET /x");
    EXPECT_EQ(s.code(), c.code) << c.http;
    EXPECT_EQ(s.retryable(), c.retryable) << c.http;
    EXPECT_EQ(ApiReason(s), c.reason) << c.http;
    EXPECT_EQ(ApiHttpCode(s), c.http);
    EXPECT_EQ(s.message(),
              "GET /x: the message (HTTP " + std::to_string(c.http) + ", reason " + c.reason + ")");
  }
}

TEST(ApiErrorTest, RecognisesGoneConflictAndAlreadyExists) {
  EXPECT_TRUE(IsGone(StatusFromApiResponse(410, StatusBody(410, "Expired", "too old"), "w")));
  EXPECT_TRUE(IsGone(StatusFromApiResponse(410, "", "w")));  // no body: reason Gone
  EXPECT_FALSE(IsGone(Status::FailedPrecondition("some other precondition")));
  EXPECT_FALSE(IsGone(StatusFromApiResponse(409, StatusBody(409, "Conflict", "c"), "w")));

  Status conflict = StatusFromApiResponse(409, StatusBody(409, "Conflict", "modified"), "PUT");
  Status exists = StatusFromApiResponse(409, StatusBody(409, "AlreadyExists", "exists"), "POST");
  EXPECT_TRUE(IsConflict(conflict));
  EXPECT_FALSE(IsAlreadyExists(conflict));
  EXPECT_TRUE(IsAlreadyExists(exists));
  EXPECT_FALSE(IsConflict(exists));
  EXPECT_TRUE(IsNotFound(StatusFromApiResponse(404, "", "GET")));
}

TEST(ApiErrorTest, ReasonSurvivesAddedContext) {
  Status s = StatusFromApiResponse(410, StatusBody(410, "Expired", "too old"), "WATCH")
                 .WithContext("informer configmaps");
  EXPECT_TRUE(IsGone(s));
  EXPECT_EQ(ApiReason(s), "Expired");
}

TEST(ApiErrorTest, WatchErrorEventStatusUsesItsCode) {
  nlohmann::json status = {{"kind", "Status"},
                           {"code", 410},
                           {"reason", "Expired"},
                           {"message", "too old resource version: 1 (42)"}};
  Status s = StatusFromApiStatus(status, "WATCH /api/v1/configmaps");
  EXPECT_TRUE(IsGone(s));
  EXPECT_NE(s.message().find("too old resource version: 1 (42)"), std::string::npos);
  // Without a code it is an internal server error: retryable.
  Status no_code = StatusFromApiStatus(nlohmann::json::object(), "WATCH");
  EXPECT_EQ(no_code.code(), StatusCode::kUnavailable);
}

TEST(ApiErrorTest, NonStatusBodyIsQuotedAndShortened) {
  Status s = StatusFromApiResponse(502, "<html>bad gateway</html>\n", "GET /x");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("\"<html>bad gateway</html> \""), std::string::npos);
  Status big = StatusFromApiResponse(500, std::string(5000, 'x'), "GET /x");
  EXPECT_LT(big.message().size(), 700u);
  Status garbage = StatusFromApiResponse(404, "{\"kind\":\"Status\"", "GET /x");  // invalid JSON
  EXPECT_TRUE(garbage.IsNotFound());
}

TEST(ApiErrorTest, OtherStatusesHaveNoApiReason) {
  EXPECT_EQ(ApiReason(Status::NotFound("plain")), "");
  EXPECT_EQ(ApiHttpCode(Status::Unavailable("x (HTTP y)")), 0);
  EXPECT_EQ(ApiReason(Status::Ok()), "");
}

}  // namespace
}  // namespace dk::kube
