// The peer API over real HTTPS (label integration): libsvc's TLS server and PeerClient with
// certificate and server-name verification, bearer tokens, byte-exact chunks.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "peer_client.h"
#include "peer_fixture.h"
#include "self_signed_cert.h"

namespace dk::agent {
namespace {

using testing::AgentPeerApiTest;

// ---- the real HTTPS path

bool Shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

class AgentPeerHttpsTest : public AgentPeerApiTest {
 protected:
  void SetUp() override {
    AgentPeerApiTest::SetUp();
    if (!Shell("command -v openssl")) GTEST_SKIP() << "openssl not installed";
    const std::string p = dir_.Sub("pki");
    ASSERT_TRUE(Shell("mkdir -p " + p));
    auto ca = [&](const std::string& name) {
      return Shell(
          "openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
          "-keyout " +
          p + "/" + name + ".key -out " + p + "/" + name + ".crt -days 1 -subj /CN=" + name);
    };
    ASSERT_TRUE(ca("ca"));
    ASSERT_TRUE(ca("other-ca"));
    ASSERT_TRUE(
        Shell("printf 'subjectAltName=DNS:diffkeeper-agent\\nextendedKeyUsage=serverAuth\\n' > " +
              p + "/ext"));
    ASSERT_TRUE(
        Shell("openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
              "-keyout " +
              p + "/tls.key -out " + p + "/tls.csr -subj /CN=diffkeeper-agent"));
    ASSERT_TRUE(Shell("openssl x509 -req -in " + p + "/tls.csr -CA " + p + "/ca.crt -CAkey " + p +
                      "/ca.key -CAcreateserial -days 1 -extfile " + p + "/ext -out " + p +
                      "/tls.crt"));
    svc::HttpServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.tls_enabled = true;
    o.tls.cert_file = p + "/tls.crt";
    o.tls.key_file = p + "/tls.key";
    auto s = svc::NewHttpServer(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    api_->Register(server_.get());
    ASSERT_TRUE(server_->Start().ok());
    endpoint_ = "https://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::milliseconds(100));
  }
  std::unique_ptr<PeerClient> Client(const std::string& ca_file, const std::string& token,
                                     const std::string& server_name = "diffkeeper-agent") {
    PeerClientOptions o;
    o.ca_pem = testing::ReadFile(dir_.Sub("pki/") + ca_file);
    o.server_name = server_name;
    o.token = token;
    o.timeout = std::chrono::seconds(5);
    auto c = PeerClient::Create(endpoint_, o, nullptr);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  std::unique_ptr<svc::HttpServer> server_;
  std::string endpoint_;
};

TEST_F(AgentPeerHttpsTest, FetchesAVerifiedManifestAndByteExactChunks) {
  auto c = Client("ca.crt", "agent");
  ASSERT_NE(c, nullptr);
  auto info = c->Info(id_);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->sets, 2u);
  auto enc = c->Manifest(id_, first_set_, std::nullopt);
  ASSERT_TRUE(enc.ok()) << enc.status();
  auto m = DecodeManifest(*enc);
  ASSERT_TRUE(m.ok()) << m.status();
  std::string whole;
  for (const auto& chunk : m->entries[0].chunks) {
    auto b = c->Object(id_, chunk);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(HashBytes(*b), chunk) << "a chunk changed on the wire";
    whole.append(b->begin(), b->end());
  }
  EXPECT_EQ(whole, content_);
}

TEST_F(AgentPeerHttpsTest, ABadTokenIsPermissionDenied) {
  auto c = Client("ca.crt", "forged");
  ASSERT_NE(c, nullptr);
  auto r = c->Manifest(id_, std::nullopt, std::nullopt);
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status();
}

TEST_F(AgentPeerHttpsTest, AServerWithoutACertificateFromThePeerCaIsRefused) {
  auto c = Client("other-ca.crt", "agent");
  ASSERT_NE(c, nullptr);
  auto r = c->Info(id_);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
}

TEST_F(AgentPeerHttpsTest, ACertificateForAnotherNameIsRefused) {
  auto c = Client("ca.crt", "agent", "someone-else");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->Info(id_).ok());
}

// Without a cluster CA: each agent's own self-signed certificate, pinned by the peers.
TEST_F(AgentPeerApiTest, APinnedSelfSignedCertificateWorksAndNoOtherDoes) {
  auto mine = EnsureSelfSignedCert(dir_.Sub("tls-a"), "127.0.0.1");
  ASSERT_TRUE(mine.ok()) << mine.status();
  auto again = EnsureSelfSignedCert(dir_.Sub("tls-a"), "127.0.0.1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->cert_pem, mine->cert_pem) << "the certificate must survive restarts";
  auto other = EnsureSelfSignedCert(dir_.Sub("tls-b"), "127.0.0.1");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->cert_pem, mine->cert_pem);
  struct stat st;
  ASSERT_EQ(stat(mine->key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  svc::HttpServerOptions o;
  o.host = "127.0.0.1";
  o.tls_enabled = true;
  o.tls.cert_file = mine->cert_file;
  o.tls.key_file = mine->key_file;
  auto server = svc::NewHttpServer(o);
  ASSERT_TRUE(server.ok()) << server.status();
  api_->Register(server->get());
  ASSERT_TRUE((*server)->Start().ok());
  const std::string ep = "https://127.0.0.1:" + std::to_string((*server)->port());
  auto client = [&](const std::string& pinned) {
    PeerClientOptions co;
    co.ca_pem = pinned;
    co.server_name = "diffkeeper-agent";
    co.token = "agent";
    co.timeout = std::chrono::seconds(5);
    return PeerClient::Create(ep, co, nullptr);
  };
  auto good = client(mine->cert_pem);
  ASSERT_TRUE(good.ok()) << good.status();
  auto info = (*good)->Info(id_);
  EXPECT_TRUE(info.ok()) << info.status();
  auto bad = client(other->cert_pem);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ((*bad)->Info(id_).status().code(), StatusCode::kUnavailable);
  (*server)->Shutdown(std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace dk::agent
