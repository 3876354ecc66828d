#include "libstate/options.h"

#include <chrono>

namespace dk {

int64_t SystemClockNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status StoreOptions::Validate() const {
  DK_RETURN_IF_ERROR_CTX(chunker.Validate(), "store options");
  if (max_chain == 0 && delta != DeltaChoice::kNone)
    return Status::InvalidArgument("store options: max_chain must be >= 1 (or delta none)");
  if (delta_max_ratio <= 0 || delta_max_ratio > 1)
    return Status::InvalidArgument("store options: delta_max_ratio must be in (0, 1]");
  if (zstd_level < 1 || zstd_level > 19 || delta_zstd_level < 1 || delta_zstd_level > 19)
    return Status::InvalidArgument("store options: zstd levels must be 1..19");
  if (map_size < (1u << 20))
    return Status::InvalidArgument("store options: map_size must be at least 1 MiB");
  if (racy_window_ns < 0)
    return Status::InvalidArgument("store options: racy_window_ns must not be negative");
  return Status::Ok();
}

namespace {
// Iterative glob match with backtracking for '*' (segment) and '**' (any depth).
bool Match(std::string_view g, std::string_view p) {
  if (g.empty()) return p.empty();
  if (g.substr(0, 2) == "**") {
    std::string_view rest = g.substr(2);
    if (!rest.empty() && rest[0] == '/') {
      // "**/" matches zero or more whole directories
      std::string_view after = rest.substr(1);
      if (Match(after, p)) return true;
      for (size_t i = 0; i < p.size(); ++i)
        if (p[i] == '/' && Match(after, p.substr(i + 1))) return true;
      return false;
    }
    for (size_t i = 0; i <= p.size(); ++i)
      if (Match(rest, p.substr(i))) return true;
    return false;
  }
  if (g[0] == '*') {
    for (size_t i = 0; i <= p.size(); ++i) {
      if (Match(g.substr(1), p.substr(i))) return true;
      if (i < p.size() && p[i] == '/') break;
    }
    return false;
  }
  if (p.empty()) return false;
  if (g[0] == '?') return p[0] != '/' && Match(g.substr(1), p.substr(1));
  return g[0] == p[0] && Match(g.substr(1), p.substr(1));
}
}  // namespace

bool GlobMatch(std::string_view glob, std::string_view path) {
  // A pattern without '/' matches the base name anywhere ("*.tmp" matches "a/b.tmp"),
  // and a directory pattern matches everything below it ("cache" matches "cache/x", and
  // so, by both rules, "a/cache/x").
  const bool base_name_rule = glob.find('/') == std::string_view::npos;
  auto entry = [&](std::string_view p) {
    if (Match(glob, p)) return true;
    size_t slash = p.rfind('/');
    return base_name_rule && slash != std::string_view::npos && Match(glob, p.substr(slash + 1));
  };
  if (entry(path)) return true;
  for (size_t i = 0; i < path.size(); ++i)
    if (path[i] == '/' && entry(path.substr(0, i))) return true;
  return false;
}

bool CaptureFilter::Excludes(std::string_view path, bool is_dir) const {
  for (const auto& g : exclude)
    if (GlobMatch(g, path)) return true;
  if (include.empty() || is_dir) return false;
  for (const auto& g : include)
    if (GlobMatch(g, path)) return false;
  return true;
}

}  // namespace dk
