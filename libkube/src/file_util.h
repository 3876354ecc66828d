// Reading small files (kubeconfig, certificates, tokens) whole. Private.
#pragma once

#include <string>

#include "libstate/result.h"

namespace dk::kube {

// The contents of `path`; NotFound / PermissionDenied / IOError naming the path otherwise.
// Refuses files larger than `max_bytes` (InvalidArgument).
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes = 16u << 20);

}  // namespace dk::kube
