#include "libsvc/router.h"

#include <set>

namespace dk::svc {

bool Router::PrefixMatches(const std::string& prefix, const std::string& path) {
  if (path.compare(0, prefix.size(), prefix) != 0) return false;
  if (path.size() == prefix.size()) return true;
  if (!prefix.empty() && prefix.back() == '/') return true;
  return path[prefix.size()] == '/';
}

void Router::Add(std::string method, std::string prefix, Handler handler) {
  for (auto& r : routes_) {
    if (r.method == method && r.prefix == prefix) {
      r.handler = std::move(handler);
      return;
    }
  }
  routes_.push_back({std::move(method), std::move(prefix), std::move(handler)});
}

Response Router::Dispatch(const Request& request) const {
  const Route* best = nullptr;
  std::set<std::string> allowed;
  for (const auto& r : routes_) {
    if (!PrefixMatches(r.prefix, request.path)) continue;
    bool method_ok = r.method.empty() || r.method == request.method ||
                     (request.method == "HEAD" && r.method == "GET");
    if (!method_ok) {
      allowed.insert(r.method);
      continue;
    }
    if (best == nullptr || r.prefix.size() > best->prefix.size() ||
        (r.prefix.size() == best->prefix.size() && best->method.empty() && !r.method.empty())) {
      best = &r;
    }
  }
  if (best != nullptr) {
    Response resp = best->handler(request);
    if (request.method == "HEAD") resp.body.clear();
    return resp;
  }
  if (!allowed.empty()) {
    Response resp =
        Response::Text(405, "method " + request.method + " not allowed on " + request.path + "\n");
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    resp.headers.emplace_back("Allow", allow);
    return resp;
  }
  return Response::Text(404, "no handler for " + request.path + "\n");
}

}  // namespace dk::svc
