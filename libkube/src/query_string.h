// QueryString: builds the "?a=b&c=d" part of an API path with percent-encoding. Private.
#pragma once

#include <string>
#include <string_view>

namespace dk::kube {

class QueryString {
 public:
  // Appends key=value (value percent-encoded); skipped when value is empty.
  QueryString& Add(std::string_view key, std::string_view value);
  QueryString& AddBool(std::string_view key, bool value);
  QueryString& AddInt(std::string_view key, long long value);
  // "" or "?k=v&…"
  std::string str() const { return query_.empty() ? std::string() : "?" + query_; }

 private:
  std::string query_;
};

// RFC 3986 percent-encoding of everything but unreserved characters.
std::string PercentEncode(std::string_view s);

}  // namespace dk::kube
