// HttpTransport: the small HTTP interface libkube talks through.
//
// Client (client.h) builds requests and interprets responses; a transport only moves bytes.
// The production implementation wraps cpprestsdk (cpprest_transport.h); unit tests use an
// in-memory fake. Keeping cpprestsdk behind this interface keeps it replaceable.
//
// Contract for implementations:
//  - Thread-safe: concurrent Send()/Stream() calls from many threads.
//  - Any HTTP status (including 4xx/5xx) is a successful Result; only failures to get a
//    response at all (connection refused, TLS failure, timeout, reset) are errors, reported as
//    Unavailable (retryable) with the server and the cause in the message.
//  - Never throws.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libkube/cancellation.h"
#include "libstate/result.h"

namespace dk::kube {

struct HttpRequest {
  std::string method = "GET";
  // Path and query relative to the server URL, e.g. "/api/v1/namespaces/a/pods?limit=5".
  std::string path;
  // Extra headers (Authorization, Accept, User-Agent …); Content-Type goes in content_type.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // empty when there is no body
  std::string body;
};

struct HttpResponse {
  int status_code = 0;
  std::string content_type;
  std::string body;
};

// Receives pieces of a streamed body in order; the split points are arbitrary (a piece may end
// in the middle of a line or a UTF-8 sequence). Return false to stop the stream.
using BodyChunkHandler = std::function<bool(std::string_view chunk)>;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // Sends `request` and reads the whole response body.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;

  // Sends `request` and streams the body: when the status is 2xx, each piece of body goes to
  // `on_chunk` as it arrives and the returned response has an empty body; otherwise the body
  // is collected into the response and `on_chunk` is never called. Returns when the body ends,
  // when `on_chunk` returns false, or soon after `cancel` (may be null) fires — in the last two
  // cases with the response received so far, so callers check their own cancellation.
  virtual Result<HttpResponse> Stream(const HttpRequest& request, const BodyChunkHandler& on_chunk,
                                      Cancellation* cancel) = 0;
};

}  // namespace dk::kube
