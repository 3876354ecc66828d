// The fixture shared by the peer API tests: a store with two capture sets of one identity, a
// fake authenticator and an authorizer that entitles node-2 to shop/db/0 only.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "agent_test_util.h"
#include "libstate/manifest.h"
#include "peer_api.h"

namespace dk::agent::testing {

class FakeAuthenticator final : public PeerAuthenticator {
 public:
  Result<PeerCaller> Authenticate(const std::string& token) override {
    ++calls;
    if (token == "down") return Status::Unavailable("API server unreachable");
    auto it = tokens.find(token);
    if (it == tokens.end()) return Status::PermissionDenied("the bearer token is not valid");
    return it->second;
  }
  std::map<std::string, PeerCaller> tokens;
  int calls = 0;
};

class AgentPeerApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.sync = false;
    registry_ = std::make_unique<StoreRegistry>(dir_.Sub("stores"), o, nullptr);
    StoreOptions so;
    auto store = registry_->Get(id_, &so);
    ASSERT_TRUE(store.ok());
    content_ = RandomBytes(TestSeed(), 300000);
    content_[17] = '\0';
    WriteFile(dir_.Sub("data/blob"), content_);
    auto r = (*store)->Capture(dir_.Sub("data"), {});
    ASSERT_TRUE(r.ok());
    first_set_ = r->set;
    WriteFile(dir_.Sub("data/blob"), "small now");
    ASSERT_TRUE((*store)->Capture(dir_.Sub("data"), {}).ok());
    source_ = std::make_unique<LocalPeerSource>(registry_.get());
    auth_.tokens["agent"] = PeerCaller{"system:serviceaccount:ds:diffkeeper-agent", "node-2"};
    api_ = std::make_unique<PeerApi>(
        source_.get(), &auth_,
        [this](const PeerCaller& c, const PodIdentity& id) -> Status {
          if (c.node == "node-2" && id == id_) return Status::Ok();
          return Status::PermissionDenied("no restore of " + id.Key() + " on " + c.node);
        },
        nullptr, nullptr);
  }
  svc::Response Get(const std::string& path, const std::string& token = "agent",
                    const std::string& query = "") {
    svc::Request r;
    r.method = "GET";
    r.path = path;
    r.query = query;
    if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
    return api_->Handle(r);
  }

  TempDir dir_;
  PodIdentity id_{"shop", "db", 0};
  std::unique_ptr<StoreRegistry> registry_;
  std::unique_ptr<LocalPeerSource> source_;
  FakeAuthenticator auth_;
  std::unique_ptr<PeerApi> api_;
  std::string content_;
  uint64_t first_set_ = 0;
};

}  // namespace dk::agent::testing
