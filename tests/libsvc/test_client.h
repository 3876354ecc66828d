// Test helper: a blocking one-request HTTP/1.1 client over a plain socket or OpenSSL, which also
// reports the certificate the server presented.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dk::svc::testing {

struct ClientResponse {
  bool ok = false;    // a response was read
  std::string error;  // why not
  int status = 0;
  std::string headers;  // raw header block
  std::string body;
  std::string peer_cn;  // TLS: CN of the server certificate
};

struct ClientRequest {
  std::string method = "GET";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;  // send the body with Transfer-Encoding: chunked
};

// Connects to 127.0.0.1:port; with `trusted_ca_pem` non-empty speaks TLS and verifies the
// server certificate against it (and IP 127.0.0.1).
ClientResponse Fetch(int port, const ClientRequest& request,
                     const std::string& trusted_ca_pem = "");

}  // namespace dk::svc::testing
