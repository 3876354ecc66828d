#include "libsvc/flags.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "libsvc/duration.h"

namespace dk::svc {

FlagSet::FlagSet(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void FlagSet::String(std::string name, std::string* target, std::string help, std::string env) {
  flags_.push_back({std::move(name), Kind::kString, target, std::move(help), std::move(env),
                    target->empty() ? "" : "\"" + *target + "\""});
}

void FlagSet::Int(std::string name, int64_t* target, std::string help, std::string env) {
  flags_.push_back({std::move(name), Kind::kInt, target, std::move(help), std::move(env),
                    std::to_string(*target)});
}

void FlagSet::Bool(std::string name, bool* target, std::string help, std::string env) {
  flags_.push_back({std::move(name), Kind::kBool, target, std::move(help), std::move(env),
                    *target ? "true" : "false"});
}

void FlagSet::Duration(std::string name, std::chrono::milliseconds* target, std::string help,
                       std::string env) {
  flags_.push_back({std::move(name), Kind::kDuration, target, std::move(help), std::move(env),
                    FormatDuration(*target)});
}

void FlagSet::StringList(std::string name, std::vector<std::string>* target, std::string help,
                         std::string env) {
  flags_.push_back({std::move(name), Kind::kList, target, std::move(help), std::move(env), ""});
}

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Status FlagSet::Assign(Flag* flag, const std::string& value, const std::string& where) {
  auto invalid = [&](const std::string& why) {
    return Status::InvalidArgument(where + ": " + why);
  };
  switch (flag->kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag->target) = value;
      return Status::Ok();
    case Kind::kInt: {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0) {
        return invalid("\"" + value + "\" is not an integer");
      }
      *static_cast<int64_t*>(flag->target) = v;
      return Status::Ok();
    }
    case Kind::kBool:
      if (value == "true" || value == "1" || value == "yes") {
        *static_cast<bool*>(flag->target) = true;
      } else if (value == "false" || value == "0" || value == "no") {
        *static_cast<bool*>(flag->target) = false;
      } else {
        return invalid("\"" + value + "\" is not a boolean (true or false)");
      }
      return Status::Ok();
    case Kind::kDuration: {
      auto d = ParseDuration(value);
      if (!d.ok()) return invalid(d.status().message());
      *static_cast<std::chrono::milliseconds*>(flag->target) =
          std::chrono::duration_cast<std::chrono::milliseconds>(*d);
      return Status::Ok();
    }
    case Kind::kList:
      static_cast<std::vector<std::string>*>(flag->target)->push_back(value);
      return Status::Ok();
  }
  return Status::Internal("unreachable");
}

Status FlagSet::Parse(int argc, const char* const* argv) {
  bool only_args = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (only_args || a.size() < 2 || a[0] != '-') {
      args_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_args = true;
      continue;
    }
    if (a == "-h" || a == "--help" || a == "-help") {
      help_ = true;
      continue;
    }
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    std::string name = body;
    std::string value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    Flag* f = Find(name);
    if (f == nullptr) {
      return Status::InvalidArgument("unknown flag --" + name + " (see " + program_ + " --help)");
    }
    if (!has_value) {
      if (f->kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return Status::InvalidArgument("flag --" + name + " needs a value");
      }
    }
    if (f->kind == Kind::kList && !f->set_on_command_line) {
      static_cast<std::vector<std::string>*>(f->target)->clear();  // replace the default
    }
    f->set_on_command_line = true;
    DK_RETURN_IF_ERROR(Assign(f, value, "flag --" + name));
  }
  for (auto& f : flags_) {
    if (f.set_on_command_line || f.env.empty()) continue;
    const char* v = std::getenv(f.env.c_str());
    if (v == nullptr) continue;
    if (f.kind == Kind::kList) {
      auto* list = static_cast<std::vector<std::string>*>(f.target);
      list->clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        if (!item.empty()) list->push_back(item);
      }
      continue;
    }
    DK_RETURN_IF_ERROR(Assign(&f, v, "environment variable " + f.env));
  }
  return Status::Ok();
}

std::string FlagSet::Usage() const {
  std::string out = "Usage: " + program_ + " [flags]\n\n" + summary_ + "\n\nFlags:\n";
  for (const auto& f : flags_) {
    out += "  --" + f.name;
    switch (f.kind) {
      case Kind::kString:
        out += " string";
        break;
      case Kind::kInt:
        out += " int";
        break;
      case Kind::kBool:
        break;
      case Kind::kDuration:
        out += " duration";
        break;
      case Kind::kList:
        out += " string (repeatable)";
        break;
    }
    out += "\n      " + f.help;
    if (!f.default_text.empty()) out += " (default " + f.default_text + ")";
    if (!f.env.empty()) out += " [$" + f.env + "]";
    out += "\n";
  }
  return out;
}

}  // namespace dk::svc
