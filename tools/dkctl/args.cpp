#include "args.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace dk::cli {

Result<Args> Args::Parse(int argc, char** argv, const std::vector<std::string>& bool_flags) {
  Args a;
  for (int i = 0; i < argc; ++i) {
    std::string s = argv[i];
    if (s.size() > 2 && s.compare(0, 2, "--") == 0) {
      std::string name = s.substr(2), value;
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (std::find(bool_flags.begin(), bool_flags.end(), name) != bool_flags.end()) {
        value = "true";
      } else {
        if (i + 1 >= argc) return Status::InvalidArgument("flag --" + name + " needs a value");
        value = argv[++i];
      }
      a.flags_.emplace(name, value);
    } else {
      a.pos_.push_back(s);
    }
  }
  return a;
}

bool Args::Has(const std::string& flag) const { return flags_.count(flag) > 0; }

std::optional<std::string> Args::Get(const std::string& flag) const {
  auto it = flags_.find(flag);
  if (it == flags_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Args::GetAll(const std::string& flag) const {
  std::vector<std::string> out;
  auto [b, e] = flags_.equal_range(flag);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

Result<uint64_t> Args::GetUint(const std::string& flag, uint64_t def) const {
  auto v = Get(flag);
  if (!v) return def;
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v->c_str(), &end, 10);
  if (v->empty() || *end || errno || (*v)[0] == '-')
    return Status::InvalidArgument("--" + flag + "=" + *v + " is not a non-negative integer");
  return static_cast<uint64_t>(n);
}

Status Args::Check(const std::vector<std::string>& known) const {
  for (const auto& [k, v] : flags_) {
    if (std::find(known.begin(), known.end(), k) == known.end())
      return Status::InvalidArgument("unknown flag --" + k);
  }
  return Status::Ok();
}

Result<int64_t> ParseDuration(const std::string& s) {
  if (s.size() < 2)
    return Status::InvalidArgument("duration '" + s + "': expected e.g. 30m, 12h, 7d");
  char unit = s.back();
  std::string num = s.substr(0, s.size() - 1);
  char* end = nullptr;
  long long n = std::strtoll(num.c_str(), &end, 10);
  if (num.empty() || *end || n < 0)
    return Status::InvalidArgument("duration '" + s + "': expected e.g. 30m, 12h, 7d");
  int64_t sec;
  switch (unit) {
    case 's':
      sec = 1;
      break;
    case 'm':
      sec = 60;
      break;
    case 'h':
      sec = 3600;
      break;
    case 'd':
      sec = 86400;
      break;
    case 'w':
      sec = 7 * 86400;
      break;
    default:
      return Status::InvalidArgument("duration '" + s + "': unit must be s, m, h, d or w");
  }
  return static_cast<int64_t>(n) * sec * 1000000000;
}

Result<int64_t> ParseTime(const std::string& s) {
  if (!s.empty() && s[0] == '@') {
    char* end = nullptr;
    long long n = std::strtoll(s.c_str() + 1, &end, 10);
    if (s.size() < 2 || *end)
      return Status::InvalidArgument("time '" + s + "': expected @<unix seconds>");
    return static_cast<int64_t>(n) * 1000000000;
  }
  tm t{};
  int frac_consumed = 0;
  if (sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &t.tm_year, &t.tm_mon, &t.tm_mday, &t.tm_hour,
             &t.tm_min, &t.tm_sec, &frac_consumed) != 6 ||
      static_cast<size_t>(frac_consumed) != s.size()) {
    return Status::InvalidArgument(
        "time '" + s + "': expected RFC 3339 UTC like 2026-11-27T12:00:00Z or @<unix seconds>");
  }
  t.tm_year -= 1900;
  t.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&t)) * 1000000000;
}

std::string FormatTime(int64_t ns) {
  time_t sec = static_cast<time_t>(ns / 1000000000);
  tm t;
  gmtime_r(&sec, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                static_cast<int>((ns / 1000000) % 1000));
  return buf;
}

std::string FormatBytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace dk::cli
