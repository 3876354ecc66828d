// Endpoint: the parsed S3 endpoint URL (private to libs3).
#pragma once

#include <string>
#include <string_view>

#include "libstate/result.h"

namespace dk::s3 {

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-cased; IPv6 literals keep their brackets ("[::1]")
  int port = 0;        // the explicit port, or the scheme's default
  bool default_port = true;

  // "host" or "host:port" (the port only when it is not the scheme's default), as sent in the
  // Host header and signed.
  std::string HostPort() const;
  // "scheme://host[:port]".
  std::string Url() const;
  // Whether host is an IPv4 or IPv6 literal (no virtual-hosted-style addressing then).
  bool HostIsIpLiteral() const;
};

// Parses "http[s]://host[:port][/]". InvalidArgument for another scheme, user info, a path,
// query or fragment, an empty host or a bad port.
Result<Endpoint> ParseEndpoint(std::string_view url);

}  // namespace dk::s3
