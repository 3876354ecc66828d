// HttpTransport: the small HTTP interface S3Client talks through (private to libs3).
//
// S3Client builds, signs and interprets requests; a transport only moves bytes to one server
// (scheme, host and port fixed at construction). The production implementation wraps cpprestsdk
// (cpprest_transport.cpp, the only file that includes its headers); unit tests use a fake.
//
// Contract for implementations:
//  - Thread-safe: concurrent Send() calls.
//  - Any HTTP status (including 4xx/5xx) is a successful Result; only failures to get a
//    response at all (connection refused, TLS failure, timeout, reset) are errors, reported as
//    Unavailable (retryable) with the cause in the message.
//  - Headers are sent exactly as given (the request is signed over them); the transport adds
//    only Content-Length (from the body) and connection management headers. The Host header
//    must be the base URL's "host[:port]" (port only when not the scheme's default): the
//    transport may write it itself, and fails the request (Internal) on a different value.
//  - Never throws.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "libs3/sigv4.h"
#include "libstate/bytes.h"
#include "libstate/result.h"

namespace dk::s3 {

struct HttpRequest {
  std::string method = "GET";
  // Encoded path and query, e.g. "/bucket/my%20key?uploadId=abc".
  std::string target;
  KeyValues headers;  // includes Host and Authorization
  ByteView body;      // not owned; must stay valid during Send()
};

struct HttpResponse {
  int status = 0;
  KeyValues headers;  // names lower-cased
  Bytes body;

  // The value of header `lower_name` (lower-case), or nullptr.
  const std::string* Header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_name) return &v;
    }
    return nullptr;
  }
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

struct TransportOptions {
  std::string base_url;  // "scheme://host[:port]" to connect to
  std::string ca_file;   // extra CA certificates (PEM) for https; empty = system roots only
  std::chrono::milliseconds timeout{30'000};
};

// InvalidArgument when the URL cannot be used or the CA file cannot be loaded.
Result<std::unique_ptr<HttpTransport>> NewCppRestTransport(const TransportOptions& options);

}  // namespace dk::s3
