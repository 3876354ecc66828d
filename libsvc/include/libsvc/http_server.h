// HttpServer: an HTTP/1.1 server with optional TLS, for /healthz, /metrics, admission webhooks
// and the agents' peer API.
//
//  - Listens on options.host:options.port; port 0 picks a free port, reported by port() after
//    Start().
//  - TLS when options.tls is set: the certificate chain and key come from PEM files or from
//    in-memory PEM. Each new connection uses the certificate current at its handshake, so a
//    rotated certificate takes effect without a restart: SetCertificate() installs new PEM,
//    ReloadCertificate() re-reads the files, and file-based certificates are also re-read
//    automatically when their modification time changed (checked at most once per
//    tls.reload_check_interval). TLS 1.2 or newer only.
//  - Handlers are registered by method and path prefix (router.h) and run on the server's
//    worker threads, possibly concurrently: they must be thread-safe.
//  - Bodies larger than options.max_body_bytes are refused with 413 before a handler runs.
//  - Shutdown(drain): new requests get 503 "shutting down", requests already in a handler may
//    finish within `drain`, then the listener and all connections are closed.
//
// The implementation is the only place that sees cpprestsdk (http_server_cpprest.cpp).
// Thread-safe; Handle() only before Start().
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "libstate/logger.h"
#include "libstate/result.h"
#include "libsvc/http_types.h"
#include "libsvc/router.h"

namespace dk::svc {

struct TlsOptions {
  // PEM files: certificate chain (leaf first) and private key.
  std::string cert_file;
  std::string key_file;
  // In-memory PEM; used instead of the files when both are non-empty.
  std::string cert_pem;
  std::string key_pem;
  std::chrono::milliseconds reload_check_interval = std::chrono::seconds(10);
};

struct HttpServerOptions {
  std::string host = "0.0.0.0";  // an IP literal or "localhost"
  int port = 0;                  // 0: any free port
  bool tls_enabled = false;
  TlsOptions tls;
  size_t max_body_bytes = 1 << 20;
  std::string name = "http";  // names the server in logs
  Logger* logger = nullptr;   // null: NullLogger(); must outlive the server
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;

  // Registers a handler (see router.h). Only before Start().
  virtual void Handle(std::string method, std::string path_prefix, Handler handler) = 0;

  // Binds and starts serving. InvalidArgument for bad TLS material (naming the file or field),
  // Unavailable when the address cannot be bound. Not restartable after Shutdown().
  virtual Status Start() = 0;

  // The port actually bound (after Start(); 0 before).
  virtual int port() const = 0;
  // "http[s]://<host>:<port>" with 127.0.0.1 for a wildcard host (for clients on this host).
  virtual std::string BaseUrl() const = 0;

  // Validates and installs a new certificate chain and key (PEM); connections accepted from now
  // on use it. InvalidArgument when the PEM does not parse or the key does not match the
  // certificate (the old certificate stays). FailedPrecondition without TLS.
  virtual Status SetCertificate(const std::string& cert_pem, const std::string& key_pem) = 0;
  // Re-reads tls.cert_file / tls.key_file now (same errors as SetCertificate, plus NotFound).
  virtual Status ReloadCertificate() = 0;

  // See the header comment. Idempotent; the destructor calls Shutdown(0).
  virtual void Shutdown(std::chrono::milliseconds drain) = 0;
};

// The cpprestsdk-based server. InvalidArgument for inconsistent options (TLS enabled without
// material, a port out of range); nothing is bound before Start().
Result<std::unique_ptr<HttpServer>> NewHttpServer(HttpServerOptions options);

}  // namespace dk::svc
