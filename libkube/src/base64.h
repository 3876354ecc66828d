// Strict standard base64 (RFC 4648 §4) decoding for kubeconfig *-data fields. Private.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dk::kube {

// Decodes `in`, ignoring ASCII whitespace (line breaks in pasted data). nullopt on any other
// character outside the alphabet, bad padding or a length that is not a multiple of 4.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace dk::kube
