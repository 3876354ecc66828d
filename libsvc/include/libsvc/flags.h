// FlagSet: command-line flags with environment fallbacks, parsed once in main().
//
// Precedence: a flag on the command line > its environment variable (when one is named) > the
// default already in the target variable. Syntax: --name=value or --name value; booleans also
// as --name / --name=false. Unknown flags, missing values and unparsable values are
// InvalidArgument naming the flag (or the variable). --help / -h make Parse() return OK with
// help_requested() true; the caller prints Usage() and exits 0.
//
// Not thread-safe; targets must outlive Parse().
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "libstate/status.h"

namespace dk::svc {

class FlagSet {
 public:
  FlagSet(std::string program, std::string summary);

  void String(std::string name, std::string* target, std::string help, std::string env = "");
  void Int(std::string name, int64_t* target, std::string help, std::string env = "");
  void Bool(std::string name, bool* target, std::string help, std::string env = "");
  // Go-style duration (duration.h), e.g. --resync=30s.
  void Duration(std::string name, std::chrono::milliseconds* target, std::string help,
                std::string env = "");
  // Repeatable; each occurrence appends (the environment variable is comma-separated).
  void StringList(std::string name, std::vector<std::string>* target, std::string help,
                  std::string env = "");

  Status Parse(int argc, const char* const* argv);
  bool help_requested() const { return help_; }
  // Positional arguments left over (after "--" or not starting with "-").
  const std::vector<std::string>& args() const { return args_; }
  std::string Usage() const;

 private:
  enum class Kind { kString, kInt, kBool, kDuration, kList };
  struct Flag {
    std::string name;
    Kind kind;
    void* target;
    std::string help;
    std::string env;
    std::string default_text;
    bool set_on_command_line = false;
  };
  Flag* Find(const std::string& name);
  Status Assign(Flag* flag, const std::string& value, const std::string& where);

  std::string program_;
  std::string summary_;
  std::vector<Flag> flags_;
  std::vector<std::string> args_;
  bool help_ = false;
};

}  // namespace dk::svc
