#include "libs3/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace dk::s3 {
namespace {

constexpr size_t kMaxSecretFile = 64 * 1024;

std::string_view Trim(std::string_view s) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Reads `dir/name`: nullopt-like NotFound when it does not exist. The content is never put into
// a message.
Result<std::string> ReadSecretFile(const std::string& dir, const char* name) {
  const std::string path = dir + "/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  std::string data;
  char buf[4096];
  Status status;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Status::FromErrno(errno, "read " + path);
      break;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxSecretFile) {
      status = Status::InvalidArgument(path + ": larger than 64 KiB, not a credential file");
      break;
    }
  }
  ::close(fd);
  if (!status.ok()) return status;
  const std::string_view value = Trim(data);
  if (value.empty()) return Status::InvalidArgument(path + ": empty");
  if (value.find_first_of("\r\n") != std::string_view::npos) {
    return Status::InvalidArgument(path + ": value spans several lines");
  }
  return std::string(value);
}

// The first of `names` that exists in `dir`: its value, NotFound when none exists, or the error
// reading the one that exists.
Result<std::string> ReadFirstOf(const std::string& dir, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    Result<std::string> r = ReadSecretFile(dir, name);
    if (r.ok() || !r.status().IsNotFound()) return r;
  }
  std::string list;
  for (const char* name : names) {
    if (!list.empty()) list += " or ";
    list += name;
  }
  return Status::NotFound(dir + ": no " + list);
}

}  // namespace

std::string Credentials::DebugString() const {
  std::string out = "access_key=" + (access_key.empty() ? std::string("<none>") : access_key);
  out += secret_key.empty() ? " secret_key=<none>" : " secret_key=<redacted>";
  out += session_token.empty() ? " session_token=<none>" : " session_token=<redacted>";
  return out;
}

std::optional<std::string> ProcessEnv(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<Credentials> CredentialsFromEnv(const EnvLookup& lookup) {
  const auto get = [&](const char* name) {
    std::optional<std::string> v = lookup(name);
    return v ? std::string(Trim(*v)) : std::string();
  };
  Credentials c;
  c.access_key = get("AWS_ACCESS_KEY_ID");
  c.secret_key = get("AWS_SECRET_ACCESS_KEY");
  c.session_token = get("AWS_SESSION_TOKEN");
  if (c.access_key.empty() && c.secret_key.empty()) {
    return Status::NotFound("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
  }
  if (c.access_key.empty()) {
    return Status::InvalidArgument("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
  }
  if (c.secret_key.empty()) {
    return Status::InvalidArgument("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  }
  return c;
}

Result<Credentials> CredentialsFromDirectory(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return Status::FromErrno(errno, "credentials directory " + dir);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir + ": not a directory");

  Result<std::string> access = ReadFirstOf(dir, {"accessKeyID", "AWS_ACCESS_KEY_ID"});
  Result<std::string> secret = ReadFirstOf(dir, {"secretAccessKey", "AWS_SECRET_ACCESS_KEY"});
  if (!access.ok() && !access.status().IsNotFound()) return access.status();
  if (!secret.ok() && !secret.status().IsNotFound()) return secret.status();
  if (!access.ok() && !secret.ok()) {
    return Status::NotFound(dir +
                            ": no credentials (expected files accessKeyID and "
                            "secretAccessKey, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
  if (!access.ok()) return Status::InvalidArgument(access.status().message());
  if (!secret.ok()) return Status::InvalidArgument(secret.status().message());

  Credentials c;
  c.access_key = std::move(access).value();
  c.secret_key = std::move(secret).value();
  Result<std::string> token = ReadFirstOf(dir, {"sessionToken", "AWS_SESSION_TOKEN"});
  if (token.ok()) {
    c.session_token = std::move(token).value();
  } else if (!token.status().IsNotFound()) {
    return token.status();
  }
  return c;
}

}  // namespace dk::s3
