#include "libkube/kubeconfig.h"

#include <gtest/gtest.h>

#include "libkube/bearer_token_source.h"
#include "libkube/fake_clock.h"
#include "libkube/in_cluster_config.h"
#include "temp_dir.h"

namespace dk::kube {
namespace {

using testing::TempDir;

const char kCaPem[] = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
const char kCertPem[] = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
const char kKeyPem[] = "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n";

std::string B64(const std::string& s) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8) | uint8_t(s[i + 2]);
    out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63]};
  }
  if (s.size() - i == 1) {
    uint32_t v = uint8_t(s[i]) << 16;
    out += {a[v >> 18], a[(v >> 12) & 63], '=', '='};
  } else if (s.size() - i == 2) {
    uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8);
    out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], '='};
  }
  return out;
}

// A kubeconfig with one cluster "c", one user "u" and context "ctx"; `cluster` and `user`
// are the indented bodies.
std::string Kubeconfig(const std::string& cluster, const std::string& user,
                       const std::string& current = "ctx", const std::string& extra_ctx = "") {
  return "apiVersion: v1\nkind: Config\n" +
         (current.empty() ? std::string() : "current-context: " + current + "\n") +
         "clusters:\n- name: c\n  cluster:\n" + cluster + "users:\n- name: u\n  user:\n" + user +
         "contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n" + extra_ctx;
}

class KubeconfigTest : public ::testing::Test {
 protected:
  Result<RestConfig> Load(const std::string& text, KubeconfigOptions opts = {}) {
    path_ = dir_.Write("kube/config", text);
    return LoadKubeconfig(path_, opts);
  }
  void ExpectError(const Result<RestConfig>& r, StatusCode code,
                   std::initializer_list<std::string> fragments) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status();
    for (const std::string& f : fragments) {
      EXPECT_NE(r.status().message().find(f), std::string::npos)
          << "missing \"" << f << "\" in: " << r.status().message();
    }
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(KubeconfigTest, LoadsCertAndKeyFilesRelativeToTheKubeconfig) {
  dir_.Write("kube/pki/ca.crt", kCaPem);
  dir_.Write("kube/pki/admin.crt", kCertPem);
  dir_.Write("kube/pki/admin.key", kKeyPem);
  auto r =
      Load(Kubeconfig("    server: https://127.0.0.1:6443/\n"
                      "    certificate-authority: pki/ca.crt\n",
                      "    client-certificate: pki/admin.crt\n"
                      "    client-key: pki/admin.key\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->server, "https://127.0.0.1:6443");
  EXPECT_EQ(r->ca_pem, kCaPem);
  EXPECT_EQ(r->client_cert_pem, kCertPem);
  EXPECT_EQ(r->client_key_pem, kKeyPem);
  EXPECT_TRUE(r->bearer_token.empty());
  EXPECT_FALSE(r->insecure_skip_tls_verify);
  EXPECT_EQ(r->default_namespace, "default");
  EXPECT_NE(r->source.find(path_), std::string::npos);
}

TEST_F(KubeconfigTest, LoadsInlineDataFields) {
  auto r =
      Load(Kubeconfig("    server: https://k8s.example:443\n"
                      "    certificate-authority-data: " +
                          B64(kCaPem) + "\n",
                      "    client-certificate-data: " + B64(kCertPem) +
                          "\n"
                          "    client-key-data: " +
                          B64(kKeyPem) + "\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ca_pem, kCaPem);
  EXPECT_EQ(r->client_cert_pem, kCertPem);
  EXPECT_EQ(r->client_key_pem, kKeyPem);
}

TEST_F(KubeconfigTest, LoadsTokenWithCaDataAndContextNamespace) {
  auto r =
      Load(Kubeconfig("    server: https://k8s.example\n"
                      "    certificate-authority-data: " +
                          B64(kCaPem) + "\n",
                      "    token: abc.def\n", "ctx", "    namespace: team-a\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->bearer_token, "abc.def");
  EXPECT_EQ(r->default_namespace, "team-a");
  EXPECT_EQ(r->ca_pem, kCaPem);
}

TEST_F(KubeconfigTest, TokenFileIsNamedNotCopied) {
  dir_.Write("kube/token", "t1\n");
  auto r = Load(Kubeconfig("    server: https://k\n", "    tokenFile: token\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->bearer_token_file, dir_.path() + "/kube/token");
  EXPECT_TRUE(r->bearer_token.empty());
}

TEST_F(KubeconfigTest, ExplicitContextWinsOverCurrentContext) {
  std::string text = Kubeconfig("    server: https://k\n", "    token: t\n", "missing");
  auto r = Load(text, KubeconfigOptions{"ctx", false});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->server, "https://k");
}

TEST_F(KubeconfigTest, MissingCurrentContextIsAnError) {
  auto r = Load(Kubeconfig("    server: https://k\n", "    token: t\n", ""));
  ExpectError(r, StatusCode::kInvalidArgument,
              {"kubeconfig " + path_, "current-context", "not set"});
}

TEST_F(KubeconfigTest, CurrentContextNamingNoContextIsAnError) {
  auto r = Load(Kubeconfig("    server: https://k\n", "    token: t\n", "nope"));
  ExpectError(r, StatusCode::kInvalidArgument, {path_, "current-context", "\"nope\"", "contexts"});
}

TEST_F(KubeconfigTest, ContextNamingAMissingClusterIsAnError) {
  std::string text = Kubeconfig("    server: https://k\n", "    token: t\n");
  text.replace(text.find("cluster: c\n    user"), 10, "cluster: other");
  auto r = Load(text);
  ExpectError(r, StatusCode::kInvalidArgument,
              {path_, "contexts[name=ctx].context.cluster", "\"other\"", "clusters"});
}

TEST_F(KubeconfigTest, ContextNamingAMissingUserIsAnError) {
  std::string text = Kubeconfig("    server: https://k\n", "    token: t\n");
  text.replace(text.find("user: u\n"), 7, "user: ghost");
  auto r = Load(text);
  ExpectError(r, StatusCode::kInvalidArgument,
              {path_, "contexts[name=ctx].context.user", "\"ghost\"", "users"});
}

TEST_F(KubeconfigTest, BadBase64NamesTheField) {
  auto r =
      Load(Kubeconfig("    server: https://k\n", "    client-certificate-data: " + B64(kCertPem) +
                                                     "\n"
                                                     "    client-key-data: 'not*base64!'\n"));
  ExpectError(r, StatusCode::kInvalidArgument,
              {path_, "users[name=u].user.client-key-data", "invalid base64"});
}

TEST_F(KubeconfigTest, Base64ThatIsNotPemIsAnError) {
  auto r =
      Load(Kubeconfig("    server: https://k\n"
                      "    certificate-authority-data: " +
                          B64("hello") + "\n",
                      "    token: t\n"));
  ExpectError(r, StatusCode::kInvalidArgument,
              {"clusters[name=c].cluster.certificate-authority-data", "not PEM"});
}

TEST_F(KubeconfigTest, MissingCertificateFileNamesTheFileAndTheField) {
  dir_.Write("kube/admin.key", kKeyPem);
  auto r = Load(Kubeconfig("    server: https://k\n",
                           "    client-certificate: /nonexistent/admin.crt\n"
                           "    client-key: admin.key\n"));
  ExpectError(
      r, StatusCode::kInvalidArgument,
      {path_, "users[name=u].user.client-certificate", "/nonexistent/admin.crt", "No such file"});
}

TEST_F(KubeconfigTest, MissingCaFileNamesTheFileAndTheField) {
  auto r = Load(
      Kubeconfig("    server: https://k\n    certificate-authority: ca.pem\n", "    token: t\n"));
  ExpectError(r, StatusCode::kInvalidArgument,
              {"clusters[name=c].cluster.certificate-authority", dir_.path() + "/kube/ca.pem"});
}

TEST_F(KubeconfigTest, MissingKubeconfigFileIsNotFoundNamingIt) {
  auto r = LoadKubeconfig(dir_.path() + "/absent");
  ExpectError(r, StatusCode::kNotFound, {"kubeconfig", dir_.path() + "/absent"});
}

TEST_F(KubeconfigTest, InsecureSkipTlsVerifyIsRefusedUnlessAllowed) {
  std::string text =
      Kubeconfig("    server: https://k\n    insecure-skip-tls-verify: true\n", "    token: t\n");
  ExpectError(Load(text), StatusCode::kInvalidArgument,
              {"clusters[name=c].cluster.insecure-skip-tls-verify", "refused"});
  auto allowed = Load(text, KubeconfigOptions{"", true});
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_TRUE(allowed->insecure_skip_tls_verify);
}

TEST_F(KubeconfigTest, PlainHttpServerIsRefused) {
  ExpectError(Load(Kubeconfig("    server: http://k:8080\n", "    token: t\n")),
              StatusCode::kInvalidArgument, {"clusters[name=c].cluster.server", "plain http"});
  ExpectError(Load(Kubeconfig("    server: k:8080\n", "    token: t\n")),
              StatusCode::kInvalidArgument, {"clusters[name=c].cluster.server"});
  ExpectError(
      Load(Kubeconfig("    certificate-authority-data: " + B64(kCaPem) + "\n", "    token: t\n")),
      StatusCode::kInvalidArgument, {"clusters[name=c].cluster.server", "not set"});
}

TEST_F(KubeconfigTest, CertificateWithoutKeyIsAnError) {
  ExpectError(Load(Kubeconfig("    server: https://k\n",
                              "    client-certificate-data: " + B64(kCertPem) + "\n")),
              StatusCode::kInvalidArgument, {"users[name=u].user.client-key"});
}

TEST_F(KubeconfigTest, DataAndFileTogetherIsAnError) {
  dir_.Write("kube/ca.crt", kCaPem);
  ExpectError(Load(Kubeconfig("    server: https://k\n    certificate-authority: ca.crt\n"
                              "    certificate-authority-data: " +
                                  B64(kCaPem) + "\n",
                              "    token: t\n")),
              StatusCode::kInvalidArgument, {"certificate-authority-data", "both"});
}

TEST_F(KubeconfigTest, ExecPluginsAreUnsupported) {
  ExpectError(Load(Kubeconfig("    server: https://k\n", "    exec:\n      command: aws\n")),
              StatusCode::kInvalidArgument, {"users[name=u].user.exec", "not supported"});
}

TEST_F(KubeconfigTest, InvalidYamlReportsTheLine) {
  ExpectError(Load("apiVersion: v1\nclusters: [\n  - {name: c\n"), StatusCode::kInvalidArgument,
              {path_, "invalid YAML at line"});
  ExpectError(Load("- just\n- a list\n"), StatusCode::kInvalidArgument, {"not a YAML map"});
  ExpectError(Load(Kubeconfig("    server: [1, 2]\n", "    token: t\n")),
              StatusCode::kInvalidArgument, {"clusters[name=c].cluster.server", "string"});
  ExpectError(Load(Kubeconfig("    server: https://k\n    insecure-skip-tls-verify: maybe\n",
                              "    token: t\n")),
              StatusCode::kInvalidArgument, {"insecure-skip-tls-verify", "boolean"});
}

TEST(InClusterConfigTest, ReadsTheServiceAccountDirectory) {
  TempDir dir;
  dir.Write("sa/ca.crt", kCaPem);
  dir.Write("sa/token", "tok\n");
  dir.Write("sa/namespace", "diffkeeper-system\n");
  InClusterOptions o{dir.path() + "/sa", "10.96.0.1", "443"};
  auto r = LoadInClusterConfig(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->server, "https://10.96.0.1:443");
  EXPECT_EQ(r->ca_pem, kCaPem);
  EXPECT_EQ(r->bearer_token_file, dir.path() + "/sa/token");
  EXPECT_EQ(r->default_namespace, "diffkeeper-system");

  auto v6 = LoadInClusterConfig({dir.path() + "/sa", "fd00::1", "443"});
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
}

TEST(InClusterConfigTest, ErrorsNameTheMissingPiece) {
  TempDir dir;
  auto r = LoadInClusterConfig({dir.path() + "/sa", "10.96.0.1", "443"});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_NE(r.status().message().find(dir.path() + "/sa/ca.crt"), std::string::npos);
  auto bad_port = LoadInClusterConfig({dir.path(), "10.96.0.1", "44x"});
  EXPECT_EQ(bad_port.status().code(), StatusCode::kInvalidArgument);
}

TEST(BearerTokenSourceTest, RereadsTheFileAfterTheIntervalOrA401) {
  TempDir dir;
  FakeClock clock;
  const std::string file = dir.Write("token", "first\n");
  BearerTokenSource src("", file, &clock, std::chrono::minutes(1));
  EXPECT_EQ(*src.Token(), "first");
  dir.Write("token", "second");
  EXPECT_EQ(*src.Token(), "first") << "cached within the interval";
  clock.Advance(std::chrono::minutes(1));
  EXPECT_EQ(*src.Token(), "second");
  dir.Write("token", "third");
  src.Invalidate();
  EXPECT_EQ(*src.Token(), "third");
  std::filesystem::remove(file);
  clock.Advance(std::chrono::minutes(5));
  EXPECT_EQ(*src.Token(), "third") << "keeps the last good token";
}

TEST(BearerTokenSourceTest, LiteralTokenAndMissingFile) {
  FakeClock clock;
  BearerTokenSource literal("abc", "", &clock);
  EXPECT_EQ(*literal.Token(), "abc");
  BearerTokenSource missing("", "/nonexistent/token", &clock);
  EXPECT_TRUE(missing.Token().status().IsNotFound());
}

}  // namespace
}  // namespace dk::kube
