#include "query_string.h"

namespace dk::kube {

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

QueryString& QueryString::Add(std::string_view key, std::string_view value) {
  if (value.empty()) return *this;
  if (!query_.empty()) query_.push_back('&');
  query_.append(key);
  query_.push_back('=');
  query_.append(PercentEncode(value));
  return *this;
}

QueryString& QueryString::AddBool(std::string_view key, bool value) {
  return Add(key, value ? "true" : "false");
}

QueryString& QueryString::AddInt(std::string_view key, long long value) {
  return Add(key, std::to_string(value));
}

}  // namespace dk::kube
