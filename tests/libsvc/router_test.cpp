#include "libsvc/router.h"

#include <gtest/gtest.h>

namespace dk::svc {
namespace {

Request Req(std::string method, std::string path, std::string query = "") {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.query = std::move(query);
  return r;
}

Handler Says(std::string what) {
  return [what](const Request&) { return Response::Text(200, what); };
}

TEST(RouterTest, PrefixMatchesWholePathSegmentsOnly) {
  EXPECT_TRUE(Router::PrefixMatches("/healthz", "/healthz"));
  EXPECT_TRUE(Router::PrefixMatches("/healthz", "/healthz/ping"));
  EXPECT_FALSE(Router::PrefixMatches("/healthz", "/healthzz"));
  EXPECT_TRUE(Router::PrefixMatches("/v1/", "/v1/stores"));
  EXPECT_TRUE(Router::PrefixMatches("/", "/anything"));
  EXPECT_FALSE(Router::PrefixMatches("/v1/stores", "/v1"));
}

TEST(RouterTest, LongestPrefixWinsAndExplicitMethodBeatsAny) {
  Router r;
  r.Add("", "/", Says("root"));
  r.Add("GET", "/v1/stores", Says("stores"));
  r.Add("", "/v1/stores/x", Says("x-any"));
  r.Add("GET", "/v1/stores/x", Says("x-get"));
  EXPECT_EQ(r.Dispatch(Req("GET", "/other")).body, "root");
  EXPECT_EQ(r.Dispatch(Req("GET", "/v1/stores/a")).body, "stores");
  EXPECT_EQ(r.Dispatch(Req("GET", "/v1/stores/x/y")).body, "x-get");
  EXPECT_EQ(r.Dispatch(Req("PUT", "/v1/stores/x")).body, "x-any");
}

TEST(RouterTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router r;
  r.Add("POST", "/mutate", Says("m"));
  r.Add("PUT", "/mutate", Says("m"));
  Response nf = r.Dispatch(Req("GET", "/nope"));
  EXPECT_EQ(nf.status, 404);
  Response na = r.Dispatch(Req("GET", "/mutate"));
  EXPECT_EQ(na.status, 405);
  ASSERT_EQ(na.headers.size(), 1u);
  EXPECT_EQ(na.headers[0].first, "Allow");
  EXPECT_EQ(na.headers[0].second, "POST, PUT");
}

TEST(RouterTest, HeadUsesTheGetHandlerWithoutBody) {
  Router r;
  r.Add("GET", "/metrics", Says("data"));
  Response resp = r.Dispatch(Req("HEAD", "/metrics"));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "");
}

TEST(RouterTest, LaterRouteReplacesTheSameMethodAndPrefix) {
  Router r;
  r.Add("GET", "/a", Says("one"));
  r.Add("GET", "/a", Says("two"));
  EXPECT_EQ(r.Dispatch(Req("GET", "/a")).body, "two");
}

TEST(HttpTypesTest, HeadersAreCaseInsensitiveAndQueryParamsDecoded) {
  Request r = Req("GET", "/x", "set=3&name=a%2Fb+c&flag&empty=");
  r.headers = {{"Content-Type", "application/json"}};
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("missing"), "");
  EXPECT_EQ(r.QueryParam("set"), "3");
  EXPECT_EQ(r.QueryParam("name"), "a/b c");
  bool present = false;
  EXPECT_EQ(r.QueryParam("flag", &present), "");
  EXPECT_TRUE(present);
  EXPECT_EQ(r.QueryParam("nope", &present), "");
  EXPECT_FALSE(present);
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
}

}  // namespace
}  // namespace dk::svc
