#include "libsvc/logging.h"

#include <cctype>

namespace dk::svc {

Result<std::unique_ptr<Logger>> NewProcessLogger(std::string_view level, std::string component) {
  std::string lower;
  for (char c : level)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower.empty()) lower = "info";
  if (lower == "warning") lower = "warn";
  LogLevel parsed;
  if (!JsonLogger::ParseLevel(lower, &parsed)) {
    return Status::InvalidArgument("--log-level: unknown level \"" + std::string(level) +
                                   "\" (want debug, info, warn or error)");
  }
  return std::unique_ptr<Logger>(new JsonLogger(parsed, std::move(component)));
}

}  // namespace dk::svc
