// Command-line parsing for dkctl: positional arguments and --flag[=| ]value options.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libstate/result.h"

namespace dk::cli {

class Args {
 public:
  // `bool_flags` take no value. Unknown flags are errors at Check() time.
  static Result<Args> Parse(int argc, char** argv, const std::vector<std::string>& bool_flags);

  const std::vector<std::string>& positional() const { return pos_; }
  // Removes and returns the first positional argument ("" when none).
  std::string Shift() {
    if (pos_.empty()) return "";
    std::string s = pos_.front();
    pos_.erase(pos_.begin());
    return s;
  }
  bool Has(const std::string& flag) const;
  std::optional<std::string> Get(const std::string& flag) const;
  std::vector<std::string> GetAll(const std::string& flag) const;
  Result<uint64_t> GetUint(const std::string& flag, uint64_t def) const;
  // InvalidArgument naming the first flag not in `known`.
  Status Check(const std::vector<std::string>& known) const;

 private:
  std::vector<std::string> pos_;
  std::multimap<std::string, std::string> flags_;
};

// "90s", "15m", "12h", "7d", "2w" → nanoseconds.
Result<int64_t> ParseDuration(const std::string& s);
// "@1700000000" (Unix seconds) or "2026-11-27T12:00:00Z" → nanoseconds since the epoch.
Result<int64_t> ParseTime(const std::string& s);
std::string FormatTime(int64_t ns);
std::string FormatBytes(uint64_t b);

}  // namespace dk::cli
