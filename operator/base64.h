// Standard base64 (RFC 4648 with padding), as Secret data and admission patches use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dk::op {

std::string Base64Encode(std::string_view data);
// nullopt for anything that is not canonical padded base64 (whitespace is not allowed).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace dk::op
