// The production HttpTransport, built on cpprestsdk (Boost.Asio + OpenSSL).
//
// TLS material comes from the RestConfig as in-memory PEM and is installed into each
// connection's OpenSSL context: the CA bundle is added to the verification store, the client
// certificate (with its chain) and key are set on the context. Server certificates are
// verified (hostname per RFC 2818, or `tls_server_name`) unless insecure_skip_tls_verify.
// cpprestsdk's headers are included only by the implementation file.
#pragma once

#include <chrono>
#include <memory>

#include "libkube/http_transport.h"
#include "libkube/rest_config.h"
#include "libstate/logger.h"
#include "libstate/result.h"

namespace dk::kube {

struct CppRestTransportOptions {
  // Idle timeout of streamed responses (no bytes for this long ends the stream as Unavailable).
  // Watches normally end sooner: the server closes them after timeoutSeconds (an Informer asks
  // for at most 2 * watch_timeout = 10 min by default) and sends bookmarks in between.
  std::chrono::milliseconds stream_idle_timeout = std::chrono::minutes(15);
};

// Validates the PEM material (InvalidArgument naming the bad field) and builds the transport.
// `logger` may be null and must outlive the transport.
Result<std::unique_ptr<HttpTransport>> NewCppRestTransport(const RestConfig& config, Logger* logger,
                                                           CppRestTransportOptions options = {});

}  // namespace dk::kube
