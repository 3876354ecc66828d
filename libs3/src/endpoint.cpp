#include "endpoint.h"

#include <arpa/inet.h>

#include <charconv>

namespace dk::s3 {

std::string Endpoint::HostPort() const {
  if (default_port) return host;
  return host + ":" + std::to_string(port);
}

std::string Endpoint::Url() const { return scheme + "://" + HostPort(); }

bool Endpoint::HostIsIpLiteral() const {
  if (!host.empty() && host.front() == '[') return true;
  in_addr addr{};
  return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

Result<Endpoint> ParseEndpoint(std::string_view url) {
  const std::string what = "endpoint \"" + std::string(url) + "\"";
  Endpoint ep;
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return Status::InvalidArgument(what + ": want http://host[:port] or https://host[:port]");
  }
  ep.scheme = std::string(url.substr(0, sep));
  if (ep.scheme != "http" && ep.scheme != "https") {
    return Status::InvalidArgument(what + ": scheme must be http or https");
  }
  std::string_view rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    return Status::InvalidArgument(what + ": must not have a path, query or fragment");
  }
  if (rest.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(what + ": must not carry user info");
  }
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(what + ": unterminated IPv6 literal");
    }
    host = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::InvalidArgument(what + ": junk after IPv6 literal");
      port = after.substr(1);
      if (port.empty()) return Status::InvalidArgument(what + ": empty port");
    }
  } else if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return Status::InvalidArgument(what + ": empty port");
  }
  if (host.empty() || host == "[]") return Status::InvalidArgument(what + ": empty host");
  ep.host = std::string(host);
  for (char& c : ep.host) {  // host names are case-insensitive; sign what is sent
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  ep.port = ep.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    int p = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535) {
      return Status::InvalidArgument(what + ": bad port");
    }
    ep.default_port = p == ep.port;
    ep.port = p;
  }
  return ep;
}

}  // namespace dk::s3
