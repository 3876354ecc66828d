#include "libreplica/head.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace dk::replica {
namespace {

using Json = nlohmann::json;
constexpr int64_t kNsPerSec = 1'000'000'000;

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

Result<int64_t> FromCivil(int year, int mon, int day, int hour, int min, int sec,
                          std::string_view what) {
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return Status::InvalidArgument("time \"" + std::string(what) + "\" is out of range");
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const time_t t = timegm(&tm);
  return static_cast<int64_t>(t) * kNsPerSec;
}

Status FieldError(std::string_view field, std::string_view problem) {
  return Status::Corruption("head: field \"" + std::string(field) + "\" " + std::string(problem));
}

}  // namespace

std::string FormatRfc3339(int64_t ns) {
  int64_t secs = ns / kNsPerSec;
  int64_t frac = ns % kNsPerSec;
  if (frac < 0) {
    frac += kNsPerSec;
    --secs;
  }
  const time_t t = static_cast<time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (frac != 0) {
    char f[16];
    std::snprintf(f, sizeof(f), ".%09lld", static_cast<long long>(frac));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  out += 'Z';
  return out;
}

Result<int64_t> ParseRfc3339(std::string_view s) {
  auto bad = [&] {
    return Status::InvalidArgument("not an RFC 3339 time: \"" + std::string(s) + "\"");
  };
  int year, mon, day, hour, min, sec;
  if (!Digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &mon) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &min) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec)) {
    return bad();
  }
  size_t pos = 19;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = kNsPerSec;
    size_t nd = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (nd < 9) {
        scale /= 10;
        frac += (s[pos] - '0') * scale;
      }
      ++nd;
      ++pos;
    }
    if (nd == 0) return bad();
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset = (oh * 3600 + om * 60) * kNsPerSec;
    if (s[pos] == '-') offset = -offset;
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  DK_ASSIGN_OR_RETURN(int64_t base, FromCivil(year, mon, day, hour, min, sec, s));
  return base + frac - offset;
}

Result<int64_t> ParseHttpDate(std::string_view s) {
  auto bad = [&] {
    return Status::InvalidArgument("not an HTTP date: \"" + std::string(s) + "\"");
  };
  // "Wed, 01 May 2024 12:00:00 GMT"
  const size_t comma = s.find(", ");
  if (comma == std::string_view::npos) return bad();
  std::string_view r = s.substr(comma + 2);
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int day, year, hour, min, sec, mon = 0;
  if (r.size() != 24 || !Digits(r, 0, 2, &day) || r[2] != ' ' || r[6] != ' ' ||
      !Digits(r, 7, 4, &year) || r[11] != ' ' || !Digits(r, 12, 2, &hour) || r[14] != ':' ||
      !Digits(r, 15, 2, &min) || r[17] != ':' || !Digits(r, 18, 2, &sec) ||
      r.substr(20) != " GMT") {
    return bad();
  }
  for (int i = 0; i < 12; ++i) {
    if (r.substr(3, 3) == kMonths[i]) mon = i + 1;
  }
  if (mon == 0) return bad();
  return FromCivil(year, mon, day, hour, min, sec, s);
}

std::string EncodeHead(const Head& h) {
  Json j = Json::object();
  j["format"] = 1;
  j["set"] = h.set;
  j["root"] = h.root.Hex();
  j["time"] = FormatRfc3339(h.time_ns);
  j["manifest"] = h.manifest;
  if (!h.manifest_sha256.IsZero()) j["manifestSha256"] = h.manifest_sha256.Hex();
  if (h.source_set != 0) j["sourceSet"] = h.source_set;
  if (!h.writer.empty()) j["writer"] = h.writer;
  if (h.replicated_ns != 0) j["replicated"] = FormatRfc3339(h.replicated_ns);
  // Invalid UTF-8 in `writer` is replaced rather than thrown about.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Head> DecodeHead(std::string_view text) {
  if (text.size() > kMaxHeadSize) {
    return Status::Corruption("head: " + std::to_string(text.size()) + " bytes, more than " +
                              std::to_string(kMaxHeadSize));
  }
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("head: not a JSON object");
  Head h;
  auto it = j.find("format");
  if (it != j.end() && !(it->is_number_unsigned() && it->get<uint64_t>() == 1)) {
    return FieldError("format", "is not 1 (a head written by a newer DiffKeeper?)");
  }
  it = j.find("set");
  if (it == j.end() || !it->is_number_unsigned())
    return FieldError("set", "is missing or not a count");
  h.set = it->get<uint64_t>();
  it = j.find("root");
  if (it == j.end() || !it->is_string()) return FieldError("root", "is missing or not a string");
  const auto root = ObjectId::FromHex(it->get_ref<const std::string&>());
  if (!root) return FieldError("root", "is not 64 hex digits");
  h.root = *root;
  it = j.find("time");
  if (it == j.end() || !it->is_string()) return FieldError("time", "is missing or not a string");
  auto t = ParseRfc3339(it->get_ref<const std::string&>());
  if (!t.ok()) return FieldError("time", "is not an RFC 3339 time");
  h.time_ns = *t;
  it = j.find("manifest");
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return FieldError("manifest", "is missing or not a key");
  }
  h.manifest = it->get<std::string>();
  it = j.find("manifestSha256");
  if (it != j.end()) {
    const auto digest =
        it->is_string() ? ObjectId::FromHex(it->get_ref<const std::string&>()) : std::nullopt;
    if (!digest) return FieldError("manifestSha256", "is not 64 hex digits");
    h.manifest_sha256 = *digest;
  }
  it = j.find("sourceSet");
  if (it != j.end()) {
    if (!it->is_number_unsigned()) return FieldError("sourceSet", "is not a count");
    h.source_set = it->get<uint64_t>();
  }
  it = j.find("writer");
  if (it != j.end()) {
    if (!it->is_string()) return FieldError("writer", "is not a string");
    h.writer = it->get<std::string>();
  }
  it = j.find("replicated");
  if (it != j.end()) {
    if (!it->is_string()) return FieldError("replicated", "is not a string");
    auto r = ParseRfc3339(it->get_ref<const std::string&>());
    if (!r.ok()) return FieldError("replicated", "is not an RFC 3339 time");
    h.replicated_ns = *r;
  }
  return h;
}

}  // namespace dk::replica
