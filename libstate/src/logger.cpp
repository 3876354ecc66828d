#include "libstate/logger.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>
#include <mutex>

namespace dk {
namespace {
class Null final : public Logger {
 public:
  void Log(LogLevel, std::string_view, std::initializer_list<LogField>) override {}
  bool Enabled(LogLevel) const override { return false; }
};
std::mutex g_stderr_mu;  // serialises whole lines from all JsonLoggers

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}
}  // namespace

Logger* NullLogger() {
  static Null n;
  return &n;
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

JsonLogger::JsonLogger(LogLevel min_level, std::string component)
    : min_level_(min_level), component_(std::move(component)) {}

bool JsonLogger::ParseLevel(std::string_view s, LogLevel* out) {
  if (s == "debug")
    *out = LogLevel::kDebug;
  else if (s == "info")
    *out = LogLevel::kInfo;
  else if (s == "warn" || s == "warning")
    *out = LogLevel::kWarn;
  else if (s == "error")
    *out = LogLevel::kError;
  else
    return false;
  return true;
}

void JsonLogger::Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!Enabled(level)) return;
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm tmv;
  gmtime_r(&tv.tv_sec, &tmv);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900,
                tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec,
                static_cast<int>(tv.tv_usec / 1000));
  std::string line = "{\"ts\":\"";
  line += ts;
  line += "\",\"level\":\"";
  line += LevelName(level);
  line += "\"";
  if (!component_.empty()) line += ",\"component\":\"" + JsonEscape(component_) + "\"";
  line += ",\"msg\":\"" + JsonEscape(msg) + "\"";
  for (const auto& f : fields) {
    line += ",\"" + JsonEscape(f.key) + "\":";
    line += f.quoted ? "\"" + JsonEscape(f.value) + "\"" : f.value;
  }
  line += "}\n";
  std::lock_guard<std::mutex> lock(g_stderr_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace dk
