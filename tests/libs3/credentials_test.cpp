#include "libs3/credentials.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace dk::s3 {
namespace {

// A fresh directory under $TMPDIR, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/libs3-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  void Write(const std::string& name, const std::string& content) const {
    std::ofstream(std::filesystem::path(path_) / name, std::ios::binary) << content;
  }

 private:
  std::string path_;
};

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(CredentialsTest, FromEnvReadsTheAwsVariables) {
  Result<Credentials> c = CredentialsFromEnv(FakeEnv({{"AWS_ACCESS_KEY_ID", "AKID"},
                                                      {"AWS_SECRET_ACCESS_KEY", "s3cr3t"},
                                                      {"AWS_SESSION_TOKEN", "tok"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key, "AKID");
  EXPECT_EQ(c->secret_key, "s3cr3t");
  EXPECT_EQ(c->session_token, "tok");
}

TEST(CredentialsTest, FromEnvSessionTokenIsOptional) {
  Result<Credentials> c = CredentialsFromEnv(
      FakeEnv({{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "s3cr3t\n"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->secret_key, "s3cr3t");
  EXPECT_EQ(c->session_token, "");
}

TEST(CredentialsTest, FromEnvMissingIsNotFoundAndHalfIsInvalid) {
  Result<Credentials> none = CredentialsFromEnv(FakeEnv({}));
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.status().IsNotFound());

  Result<Credentials> half = CredentialsFromEnv(FakeEnv({{"AWS_SECRET_ACCESS_KEY", "s3cr3t"}}));
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(half.status().message().find("s3cr3t"), std::string::npos) << "secret leaked";

  Result<Credentials> empty =
      CredentialsFromEnv(FakeEnv({{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}}));
  EXPECT_TRUE(empty.status().IsNotFound());
}

TEST(CredentialsTest, FromProcessEnvironment) {
  ::setenv("AWS_ACCESS_KEY_ID", "AKPROC", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "procsecret", 1);
  ::unsetenv("AWS_SESSION_TOKEN");
  Result<Credentials> c = CredentialsFromEnv();
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key, "AKPROC");
  EXPECT_EQ(c->secret_key, "procsecret");
}

TEST(CredentialsTest, FromSecretDirectoryWithCamelCaseNames) {
  TempDir dir;
  dir.Write("accessKeyID", "AKDIR\n");
  dir.Write("secretAccessKey", "dirsecret\n");
  dir.Write("sessionToken", "  dirtoken  \n");
  Result<Credentials> c = CredentialsFromDirectory(dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key, "AKDIR");
  EXPECT_EQ(c->secret_key, "dirsecret");
  EXPECT_EQ(c->session_token, "dirtoken");
}

TEST(CredentialsTest, FromSecretDirectoryWithEnvStyleNames) {
  TempDir dir;
  dir.Write("AWS_ACCESS_KEY_ID", "AKENV");
  dir.Write("AWS_SECRET_ACCESS_KEY", "envsecret");
  Result<Credentials> c = CredentialsFromDirectory(dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key, "AKENV");
  EXPECT_EQ(c->secret_key, "envsecret");
  EXPECT_EQ(c->session_token, "");
}

TEST(CredentialsTest, FromSecretDirectoryFollowsKubernetesAtomicWriterSymlinks) {
  // A mounted Secret: files are symlinks into ..data, itself a symlink to a timestamped dir.
  TempDir dir;
  std::filesystem::create_directory(std::filesystem::path(dir.path()) / "..2024_01_01");
  dir.Write("..2024_01_01/accessKeyID", "AKLINK");
  dir.Write("..2024_01_01/secretAccessKey", "linksecret");
  std::filesystem::create_directory_symlink("..2024_01_01",
                                            std::filesystem::path(dir.path()) / "..data");
  for (const char* f : {"accessKeyID", "secretAccessKey"}) {
    std::filesystem::create_symlink(std::string("..data/") + f,
                                    std::filesystem::path(dir.path()) / f);
  }
  Result<Credentials> c = CredentialsFromDirectory(dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key, "AKLINK");
  EXPECT_EQ(c->secret_key, "linksecret");
}

TEST(CredentialsTest, FromSecretDirectoryErrorsNeverShowSecrets) {
  TempDir missing_secret;
  missing_secret.Write("accessKeyID", "AKONLY");
  Result<Credentials> c = CredentialsFromDirectory(missing_secret.path());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("secretAccessKey"), std::string::npos);

  TempDir empty_file;
  empty_file.Write("accessKeyID", "AK");
  empty_file.Write("secretAccessKey", "\n");
  EXPECT_EQ(CredentialsFromDirectory(empty_file.path()).status().code(),
            StatusCode::kInvalidArgument);

  TempDir multiline;
  multiline.Write("accessKeyID", "AK");
  multiline.Write("secretAccessKey", "line1-topsecret\nline2");
  Result<Credentials> m = CredentialsFromDirectory(multiline.path());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message().find("topsecret"), std::string::npos) << "secret leaked";

  TempDir none;
  EXPECT_TRUE(CredentialsFromDirectory(none.path()).status().IsNotFound());
  EXPECT_TRUE(CredentialsFromDirectory(none.path() + "/nope").status().IsNotFound());

  TempDir big;
  big.Write("accessKeyID", "AK");
  big.Write("secretAccessKey", std::string(70 * 1024, 'x'));
  EXPECT_EQ(CredentialsFromDirectory(big.path()).status().code(), StatusCode::kInvalidArgument);
}

TEST(CredentialsTest, DebugStringRedactsSecrets) {
  const Credentials c{"AKIAEXAMPLE", "supersecret", "sessiontoken"};
  const std::string s = c.DebugString();
  EXPECT_NE(s.find("AKIAEXAMPLE"), std::string::npos);
  EXPECT_EQ(s.find("supersecret"), std::string::npos);
  EXPECT_EQ(s.find("sessiontoken"), std::string::npos);
  EXPECT_NE(s.find("<redacted>"), std::string::npos);
  EXPECT_NE(Credentials{}.DebugString().find("<none>"), std::string::npos);
}

}  // namespace
}  // namespace dk::s3
