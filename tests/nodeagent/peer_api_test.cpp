// PeerApi: authentication and entitlement before anything is served, and the three endpoints.
#include "peer_api.h"

#include <gtest/gtest.h>

#include "peer_fixture.h"

namespace dk::agent {
namespace {

using testing::AgentPeerApiTest;

TEST_F(AgentPeerApiTest, NoTokenOrABadTokenIs401) {
  EXPECT_EQ(Get("/v1/stores/shop/db/0/manifest", "").status, 401);
  EXPECT_EQ(Get("/v1/stores/shop/db/0/manifest", "forged").status, 401);
  svc::Request r;
  r.method = "GET";
  r.path = "/v1/stores/shop/db/0";
  r.headers.emplace_back("Authorization", "Basic YWRtaW46YWRtaW4=");
  EXPECT_EQ(api_->Handle(r).status, 401);
}

TEST_F(AgentPeerApiTest, AnUncheckableTokenIs503) {
  EXPECT_EQ(Get("/v1/stores/shop/db/0", "down").status, 503);
}

TEST_F(AgentPeerApiTest, ACallerIsServedOnlyWhatItIsEntitledTo) {
  auth_.tokens["other-node"] = PeerCaller{"system:serviceaccount:ds:diffkeeper-agent", "node-3"};
  auto r = Get("/v1/stores/shop/db/0/manifest", "other-node");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body.find("DKM1"), std::string::npos);
  // Entitlement is checked before existence: no probing for other stores.
  EXPECT_EQ(Get("/v1/stores/shop/secret/0", "agent").status, 403);
}

TEST_F(AgentPeerApiTest, MalformedPathsAreRefusedBeforeAuthentication) {
  int calls = auth_.calls;
  EXPECT_EQ(Get("/v1/stores/shop/../0/manifest").status, 400);
  EXPECT_EQ(Get("/v1/stores/shop/db/-1").status, 400);
  EXPECT_EQ(Get("/v1/stores/shop/db/0/other").status, 404);
  EXPECT_EQ(Get("/v2/stores/shop/db/0").status, 404);
  EXPECT_EQ(auth_.calls, calls);
}

TEST_F(AgentPeerApiTest, ServesInfoManifestsAndObjects) {
  auto info = Get("/v1/stores/shop/db/0");
  ASSERT_EQ(info.status, 200) << info.body;
  auto j = nlohmann::json::parse(info.body);
  EXPECT_EQ(j["sets"], 2);
  auto latest = Get("/v1/stores/shop/db/0/manifest");
  ASSERT_EQ(latest.status, 200) << latest.body;
  auto m = DecodeManifest(latest.body);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->set, first_set_ + 1);
  auto old = Get("/v1/stores/shop/db/0/manifest", "agent", "set=" + std::to_string(first_set_));
  ASSERT_EQ(old.status, 200);
  auto om = DecodeManifest(old.body);
  ASSERT_TRUE(om.ok());
  ASSERT_EQ(om->entries.size(), 1u);
  // Every chunk of the old version, byte-exact, and they reassemble the file.
  std::string whole;
  for (const auto& c : om->entries[0].chunks) {
    auto obj = Get("/v1/stores/shop/db/0/objects/" + c.Hex());
    ASSERT_EQ(obj.status, 200);
    EXPECT_EQ(HashBytes(AsBytes(obj.body)), c);
    whole += obj.body;
  }
  EXPECT_EQ(whole, content_);
  EXPECT_EQ(Get("/v1/stores/shop/db/0/objects/" + std::string(64, '0')).status, 404);
  EXPECT_EQ(Get("/v1/stores/shop/db/0/objects/xyz").status, 400);
  EXPECT_EQ(Get("/v1/stores/shop/db/0/manifest", "agent", "set=99").status, 404);
  EXPECT_EQ(Get("/v1/stores/shop/db/0/manifest", "agent", "set=abc").status, 400);
  EXPECT_EQ(Get("/v1/stores/shop/db/0/manifest", "agent", "time=1").status, 404);
}

}  // namespace
}  // namespace dk::agent
