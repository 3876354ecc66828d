#include "libstate/options.h"

#include <chrono>
#include <cstdint>
#include <vector>

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

// A glob compiled to a sequence of tokens, matched by simulating the automaton it defines:
// the set of token positions reachable after each path character. O(tokens x path length),
// no backtracking (the recursive matcher this replaces was exponential in the number of
// stars: "*a*a*a*a*b" against a long run of a's).
//   kChar c   the character c
//   kOne      '?': one character other than '/'
//   kStar     '*': any run of characters other than '/'
//   kAny      '**' not followed by '/': any run of characters
//   kDirs     '**/': zero or more whole directories, i.e. "" or any run ending in '/'
class CompiledGlob {
 public:
  explicit CompiledGlob(std::string_view g) {
    for (size_t i = 0; i < g.size();) {
      if (g.compare(i, 2, "**") == 0) {
        if (i + 2 < g.size() && g[i + 2] == '/') {
          toks_.push_back({kDirs, 0});
          i += 3;
        } else {
          toks_.push_back({kAny, 0});
          i += 2;
        }
      } else if (g[i] == '*') {
        toks_.push_back({kStar, 0});
        ++i;
      } else if (g[i] == '?') {
        toks_.push_back({kOne, 0});
        ++i;
      } else {
        toks_.push_back({kChar, g[i]});
        ++i;
      }
    }
  }

  bool Matches(std::string_view p) {
    const size_t n = toks_.size();
    // at_[k]: the match can be before token k. in_[k] (kDirs only): inside its "**/" having
    // read characters since the last '/', so not yet allowed past it.
    at_.assign(n + 1, 0);
    in_.assign(n + 1, 0);
    at_[0] = 1;
    Close();
    for (char c : p) {
      next_at_.assign(n + 1, 0);
      next_in_.assign(n + 1, 0);
      bool any = false;
      for (size_t k = 0; k < n; ++k) {
        if (!at_[k] && !in_[k]) continue;
        const Tok& t = toks_[k];
        switch (t.kind) {
          case kChar:
            if (at_[k] && c == t.c) next_at_[k + 1] = any = true;
            break;
          case kOne:
            if (at_[k] && c != '/') next_at_[k + 1] = any = true;
            break;
          case kStar:
            if (at_[k] && c != '/') next_at_[k] = any = true;
            break;
          case kAny:
            if (at_[k]) next_at_[k] = any = true;
            break;
          case kDirs:
            // Reading a '/' completes a directory: past the token, or on to another one.
            if (c == '/') {
              next_at_[k + 1] = next_at_[k] = any = true;
            } else {
              next_in_[k] = any = true;
            }
            break;
        }
      }
      if (!any) return false;
      at_.swap(next_at_);
      in_.swap(next_in_);
      Close();
    }
    return at_[n];
  }

 private:
  enum Kind : uint8_t { kChar, kOne, kStar, kAny, kDirs };
  struct Tok {
    Kind kind;
    char c;
  };
  // Empty matches: a position before a star-like token also reaches the next one.
  void Close() {
    for (size_t k = 0; k < toks_.size(); ++k)
      if (at_[k] && toks_[k].kind != kChar && toks_[k].kind != kOne) at_[k + 1] = 1;
  }

  std::vector<Tok> toks_;
  std::vector<uint8_t> at_, in_, next_at_, next_in_;
};

}  // namespace

bool GlobMatch(std::string_view glob, std::string_view path) {
  // A pattern without '/' matches the base name anywhere ("*.tmp" matches "a/b.tmp"),
  // and a directory pattern matches everything below it ("cache" matches "cache/x", and
  // so, by both rules, "a/cache/x").
  const bool base_name_rule = glob.find('/') == std::string_view::npos;
  CompiledGlob g(glob);
  auto entry = [&](std::string_view p) {
    if (g.Matches(p)) return true;
    size_t slash = p.rfind('/');
    return base_name_rule && slash != std::string_view::npos && g.Matches(p.substr(slash + 1));
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
