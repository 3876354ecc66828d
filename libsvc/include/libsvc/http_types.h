// Request and Response: the small HTTP message types of libsvc's server side.
//
// They carry no transport details: handlers see the method, the raw (still percent-encoded)
// path and query, headers, the whole body (already bounded by the server's body limit) and the
// peer address, and return a Response value. Value types, freely copied.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dk::svc {

struct Request {
  std::string method;  // "GET", "POST" … (upper case)
  std::string path;    // "/metrics", "/v1/stores/a/b/0/manifest" (no query)
  std::string query;   // "set=3&x=y" (no leading '?'; "" when absent)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  // peer IP, "" when unknown
  bool tls = false;

  // The first header named `name` (case-insensitive); "" when absent.
  std::string Header(std::string_view name) const;
  // The percent-decoded value of query parameter `name`; "" when absent. `*present` (optional)
  // tells an empty value from a missing one.
  std::string QueryParam(std::string_view name, bool* present = nullptr) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static Response Text(int status, std::string body);
  static Response Json(int status, std::string body);
};

// Decodes %XX escapes (and '+' as space when `plus_is_space`); malformed escapes are kept as is.
std::string PercentDecode(std::string_view s, bool plus_is_space = false);

}  // namespace dk::svc
