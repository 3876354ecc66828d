#include "libsvc/duration.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace dk::svc {
namespace {

struct Unit {
  const char* name;
  int64_t ns;
};
// Longest names first so "ms" is not read as "m" + "s".
constexpr Unit kUnits[] = {
    {"ns", 1},       {"us", 1000},      {"\xC2\xB5s", 1000},  {"\xCE\xBCs", 1000},
    {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000LL}, {"h", 3600000000000LL}};

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(std::string_view s) {
  const std::string orig(s);
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("invalid duration \"" + orig + "\": " + why +
                                   " (want e.g. 500ms, 30s, 5m, 1h30m)");
  };
  if (s.empty()) return bad("empty");
  if (s[0] == '+') s.remove_prefix(1);
  if (!s.empty() && s[0] == '-') return bad("negative");
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return bad("no number");
  long double total = 0;
  while (!s.empty()) {
    // Number: digits [. digits]
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + (s[i] - '0');
      ++i;
      digits = true;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        value += (s[i] - '0') * scale;
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) return bad("expected a number at \"" + std::string(s) + "\"");
    s.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      std::string_view name(u.name);
      if (s.substr(0, name.size()) == name) {
        // "m" must not swallow the "m" of "ms" (handled by order) — nor be followed by a letter.
        unit = &u;
        s.remove_prefix(name.size());
        break;
      }
    }
    if (unit == nullptr) return bad("missing or unknown unit");
    total += value * static_cast<long double>(unit->ns);
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
      return bad("too large");
    }
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total)));
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  auto frac = [](uint64_t v, uint64_t unit, const char* suffix) {
    std::string s = std::to_string(v / unit);
    uint64_t rest = v % unit;
    if (rest != 0) {
      std::string digits = std::to_string(rest + unit).substr(1);  // zero-padded
      while (!digits.empty() && digits.back() == '0') digits.pop_back();
      s += "." + digits;
    }
    return s + suffix;
  };
  if (u < 1000) return sign + std::to_string(u) + "ns";
  if (u < 1000000) return sign + frac(u, 1000, "\xC2\xB5s");
  if (u < 1000000000) return sign + frac(u, 1000000, "ms");
  std::string out;
  uint64_t hours = u / 3600000000000ULL;
  u %= 3600000000000ULL;
  uint64_t minutes = u / 60000000000ULL;
  u %= 60000000000ULL;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += frac(u, 1000000000, "s");
  return sign + out;
}

}  // namespace dk::svc
