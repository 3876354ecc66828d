// Router: picks the handler of a request by method and path prefix.
//
// A route matches when its method is the request's method (or the route's method is "", any
// method) and its prefix matches the path: the prefix equals the path, or the prefix ends in
// '/' and starts the path, or the path continues the prefix with '/'. So "/healthz" matches
// "/healthz" and "/healthz/ping" but not "/healthzz"; "/" matches every path. The longest
// matching prefix wins; among equal prefixes a route with an explicit method wins over "".
// A path that some route's prefix matches with another method gets 405, otherwise 404.
//
// Pure logic; Add() before concurrent use, Dispatch() is then thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "libsvc/http_types.h"

namespace dk::svc {

using Handler = std::function<Response(const Request& request)>;

class Router {
 public:
  // Adds a route; a later route with the same method and prefix replaces the earlier one.
  void Add(std::string method, std::string prefix, Handler handler);

  // The matching handler's response, or 404 / 405 (with an Allow header) as described above.
  Response Dispatch(const Request& request) const;

  // True when `prefix` matches `path` as described above.
  static bool PrefixMatches(const std::string& prefix, const std::string& path);

 private:
  struct Route {
    std::string method;
    std::string prefix;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace dk::svc
