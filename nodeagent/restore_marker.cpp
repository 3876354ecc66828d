#include "restore_marker.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "libstate/options.h"
#include "pinned_dir.h"

namespace dk::agent {
namespace {

Status WriteAll(int fd, const std::string& data, const std::string& what) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "write " + what);
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

std::string_view MarkerResultName(MarkerResult r) {
  switch (r) {
    case MarkerResult::kRestored:
      return "restored";
    case MarkerResult::kEmpty:
      return "empty";
    case MarkerResult::kFailed:
      return "failed";
  }
  return "failed";
}

std::string Rfc3339(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status ValidatePodUid(const std::string& uid) {
  if (uid.empty() || uid.size() > 64)
    return Status::InvalidArgument("pod UID '" + uid + "' has a bad length");
  for (char c : uid)
    if (!((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == '-'))
      return Status::InvalidArgument("pod UID '" + uid + "' has characters other than hex and '-'");
  return Status::Ok();
}

Status WriteMarker(const std::string& dir, const std::string& uid, const RestoreMarker& m) {
  DK_RETURN_IF_ERROR(ValidatePodUid(uid));
  DK_RETURN_IF_ERROR_CTX(MakeDirs(dir, 0755), "marker directory");
  nlohmann::json j = {{"result", std::string(MarkerResultName(m.result))},
                      {"message", m.message},
                      {"set", m.set},
                      {"root", m.root},
                      {"restore", m.restore},
                      {"time", m.time.empty() ? Rfc3339(SystemClockNs()) : m.time}};
  std::string body = j.dump() + "\n";
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = dir + "/.tmp-" + uid + "-" + std::to_string(rng());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "create " + tmp);
  Status s = WriteAll(fd, body, tmp);
  if (s.ok() && fsync(fd) != 0) s = Status::FromErrno(errno, "fsync " + tmp);
  close(fd);
  if (s.ok() && rename(tmp.c_str(), (dir + "/" + uid).c_str()) != 0)
    s = Status::FromErrno(errno, "rename marker into place in " + dir);
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Status::Ok();
}

Result<std::optional<RestoreMarker>> ReadMarker(const std::string& dir, const std::string& uid) {
  DK_RETURN_IF_ERROR(ValidatePodUid(uid));
  std::string path = dir + "/" + uid;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<RestoreMarker>();
    return Status::FromErrno(errno, "open marker " + path);
  }
  std::string data;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 && data.size() < (1 << 20)) data.append(buf, n);
  close(fd);
  auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("result") || !j["result"].is_string())
    return Status::Corruption("marker " + path + " is not a marker JSON object");
  RestoreMarker m;
  std::string r = j["result"].get<std::string>();
  if (r == "restored")
    m.result = MarkerResult::kRestored;
  else if (r == "empty")
    m.result = MarkerResult::kEmpty;
  else if (r == "failed")
    m.result = MarkerResult::kFailed;
  else
    return Status::Corruption("marker " + path + ": unknown result '" + r + "'");
  auto str = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  m.message = str("message");
  m.root = str("root");
  m.restore = str("restore");
  m.time = str("time");
  if (j.contains("set") && j["set"].is_number_unsigned()) m.set = j["set"].get<uint64_t>();
  return std::optional<RestoreMarker>(std::move(m));
}

size_t PruneMarkers(const std::string& dir, const std::vector<std::string>& live,
                    int64_t min_age_seconds) {
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.push_back(n);
  }
  closedir(d);
  size_t removed = 0;
  const time_t now = time(nullptr);
  for (const auto& n : names) {
    bool tmp = n.rfind(".tmp-", 0) == 0;
    if (!tmp && (!ValidatePodUid(n).ok() || std::find(live.begin(), live.end(), n) != live.end()))
      continue;
    struct stat st;
    std::string p = dir + "/" + n;
    if (lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (now - st.st_mtime < min_age_seconds) continue;
    if (unlink(p.c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace dk::agent
