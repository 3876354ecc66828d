// Logger: the one logging interface. Implementations write one JSON object per line.
//
// Fields are key/value pairs; values are strings or numbers already rendered by the caller.
// Never pass secrets or file contents. Implementations must be thread-safe.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace dk {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct LogField {
  std::string key;
  std::string value;
  bool quoted = true;  // false for numbers/bools
  LogField(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  LogField(std::string k, const char* v) : key(std::move(k)), value(v) {}
  LogField(std::string k, std::string_view v) : key(std::move(k)), value(v) {}
  template <typename N, typename = std::enable_if_t<std::is_arithmetic_v<N>>>
  LogField(std::string k, N n) : key(std::move(k)), value(std::to_string(n)), quoted(false) {}
};

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void Log(LogLevel level, std::string_view msg,
                   std::initializer_list<LogField> fields) = 0;
  virtual bool Enabled(LogLevel level) const = 0;

  void Debug(std::string_view m, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kDebug, m, f);
  }
  void Info(std::string_view m, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kInfo, m, f);
  }
  void Warn(std::string_view m, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kWarn, m, f);
  }
  void Error(std::string_view m, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kError, m, f);
  }
};

// A logger that drops everything (default for library users that pass none).
Logger* NullLogger();

// JSON lines on stderr ({"ts":"…","level":"info","msg":"…",k:v…}), thread-safe.
class JsonLogger final : public Logger {
 public:
  explicit JsonLogger(LogLevel min_level, std::string component = "");
  void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) override;
  bool Enabled(LogLevel level) const override { return level >= min_level_; }
  // Parses "debug|info|warn|error"; nullopt-like false on bad input.
  static bool ParseLevel(std::string_view s, LogLevel* out);

 private:
  LogLevel min_level_;
  std::string component_;
};

// Escapes s as the inside of a JSON string.
std::string JsonEscape(std::string_view s);

}  // namespace dk
