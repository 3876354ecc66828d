// The process logger of a DiffKeeper binary: JSON lines on stderr (libstate/logger.h), at the
// level given by --log-level.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "libstate/logger.h"
#include "libstate/result.h"

namespace dk::svc {

// `level` is the flag's value: debug, info, warn or error (case-insensitive; "" means info).
// InvalidArgument "--log-level: unknown level "x" (want debug, info, warn or error)".
Result<std::unique_ptr<Logger>> NewProcessLogger(std::string_view level, std::string component);

}  // namespace dk::svc
