// The cpprestsdk adapter of HttpServer: the only libsvc file that includes cpprestsdk (and
// Boost.Asio) headers. cpprestsdk reports failures by throwing; every call into it is wrapped so
// that no exception leaves this file.
//
// Notes on cpprestsdk's listener (2.10) that shape this file:
//  - It keys listeners by "host:port", so two servers asking for port 0 would share one socket.
//    A free port is therefore picked here: a probe socket is bound to port 0 with SO_REUSEADDR
//    and kept bound (not listening) while the listener binds the same port (cpprestsdk sets
//    SO_REUSEADDR too), which keeps other binders and outgoing connections off the port.
//  - It creates one OpenSSL context per connection and calls the configuration callback for
//    each, which is what makes certificate rotation a matter of swapping a pointer.
//  - It dispatches a request before its body has arrived and replies only after the whole body
//    was received; the body limit is enforced while reading, so a handler never sees more than
//    max_body_bytes (an oversized upload is still received and dropped before the 413 goes out).
#include <cpprest/http_listener.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "libsvc/http_server.h"
#include "pem.h"

namespace dk::svc {
namespace {

namespace http = web::http;
namespace listener = web::http::experimental::listener;
using internal::CertifiedKey;

class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ~ScopedFd() { Reset(); }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

Result<std::string> ReadFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::FromErrno(errno, path);
  std::string data;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) data.append(buf, n);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Status::IOError("read " + path);
  return data;
}

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// Binds a probe socket to host:0 and returns it with the port the kernel picked.
Result<int> ProbeFreePort(const std::string& host, ScopedFd* probe) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), "0", &hints, &res);
  if (rc != 0) {
    return Status::InvalidArgument("cannot resolve listen host \"" + host +
                                   "\": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  ScopedFd fd(socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::FromErrno(errno, "socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0) {
    return Status::Unavailable("bind " + host + ":0: " + std::strerror(errno));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Status::FromErrno(errno, "getsockname");
  }
  int port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  probe->Reset(fd.Release());
  return port;
}

class CppRestHttpServer final : public HttpServer {
 public:
  explicit CppRestHttpServer(HttpServerOptions options)
      : options_(std::move(options)),
        logger_(options_.logger != nullptr ? options_.logger : NullLogger()) {}

  ~CppRestHttpServer() override { Shutdown(std::chrono::milliseconds(0)); }

  void Handle(std::string method, std::string path_prefix, Handler handler) override {
    router_.Add(std::move(method), std::move(path_prefix), std::move(handler));
  }

  Status Start() override;
  int port() const override { return port_.load(); }
  std::string BaseUrl() const override;
  Status SetCertificate(const std::string& cert_pem, const std::string& key_pem) override;
  Status ReloadCertificate() override;
  void Shutdown(std::chrono::milliseconds drain) override;

 private:
  Status OpenListener(int port);
  void Serve(http::http_request req);
  Result<std::string> ReadBody(http::http_request& req);
  void ConfigureTls(boost::asio::ssl::context& ctx);
  std::shared_ptr<const CertifiedKey> CurrentCertificate();
  Status LoadFromFiles();

  const HttpServerOptions options_;
  Logger* const logger_;
  Router router_;
  std::atomic<int> port_{0};

  std::mutex cert_mu_;
  std::shared_ptr<const CertifiedKey> cert_;
  int64_t cert_mtime_ = -1;
  int64_t key_mtime_ = -1;
  std::chrono::steady_clock::time_point last_check_{};

  std::mutex mu_;
  std::condition_variable idle_;
  int in_flight_ = 0;
  bool started_ = false;
  bool draining_ = false;
  bool closed_ = false;
  std::unique_ptr<listener::http_listener> listener_;
};

Result<std::unique_ptr<HttpServer>> Create(HttpServerOptions options) {
  if (options.port < 0 || options.port > 65535) {
    return Status::InvalidArgument("port " + std::to_string(options.port) + " out of range");
  }
  if (options.tls_enabled) {
    const TlsOptions& t = options.tls;
    bool mem = !t.cert_pem.empty() || !t.key_pem.empty();
    bool files = !t.cert_file.empty() || !t.key_file.empty();
    if (mem && (t.cert_pem.empty() || t.key_pem.empty())) {
      return Status::InvalidArgument("TLS: both cert_pem and key_pem are needed");
    }
    if (!mem && (!files || t.cert_file.empty() || t.key_file.empty())) {
      return Status::InvalidArgument("TLS: set a certificate and key (PEM files or PEM text)");
    }
  }
  if (options.host.empty()) options.host = "0.0.0.0";
  return std::unique_ptr<HttpServer>(new CppRestHttpServer(std::move(options)));
}

std::string CppRestHttpServer::BaseUrl() const {
  std::string host = options_.host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "[::1]";
  return std::string(options_.tls_enabled ? "https" : "http") + "://" + host + ":" +
         std::to_string(port_.load());
}

Status CppRestHttpServer::LoadFromFiles() {
  const TlsOptions& t = options_.tls;
  int64_t cm = MtimeNs(t.cert_file);
  int64_t km = MtimeNs(t.key_file);
  DK_ASSIGN_OR_RETURN(std::string cert, ReadFile(t.cert_file));
  DK_ASSIGN_OR_RETURN(std::string key, ReadFile(t.key_file));
  DK_ASSIGN_OR_RETURN(
      auto ck, internal::ParseCertifiedKey(cert, key,
                                           "TLS certificate " + t.cert_file + " / " + t.key_file));
  std::lock_guard<std::mutex> lock(cert_mu_);
  cert_ = std::move(ck);
  cert_mtime_ = cm;
  key_mtime_ = km;
  last_check_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status CppRestHttpServer::SetCertificate(const std::string& cert_pem, const std::string& key_pem) {
  if (!options_.tls_enabled) {
    return Status::FailedPrecondition(options_.name + ": TLS is not enabled on this server");
  }
  DK_ASSIGN_OR_RETURN(auto ck, internal::ParseCertifiedKey(cert_pem, key_pem, "TLS certificate"));
  std::lock_guard<std::mutex> lock(cert_mu_);
  cert_ = std::move(ck);
  return Status::Ok();
}

Status CppRestHttpServer::ReloadCertificate() {
  if (!options_.tls_enabled) {
    return Status::FailedPrecondition(options_.name + ": TLS is not enabled on this server");
  }
  if (options_.tls.cert_file.empty()) {
    return Status::FailedPrecondition(options_.name + ": the certificate does not come from files");
  }
  return LoadFromFiles();
}

std::shared_ptr<const CertifiedKey> CppRestHttpServer::CurrentCertificate() {
  const TlsOptions& t = options_.tls;
  bool check = false;
  {
    std::lock_guard<std::mutex> lock(cert_mu_);
    auto now = std::chrono::steady_clock::now();
    if (!t.cert_file.empty() && t.cert_pem.empty() &&
        now - last_check_ >= t.reload_check_interval) {
      last_check_ = now;
      check = MtimeNs(t.cert_file) != cert_mtime_ || MtimeNs(t.key_file) != key_mtime_;
    }
  }
  if (check) {
    Status s = LoadFromFiles();
    if (s.ok()) {
      logger_->Info("Reloaded TLS certificate", {{"server", options_.name}, {"file", t.cert_file}});
    } else {
      logger_->Warn("Kept the previous TLS certificate: the new one failed to load",
                    {{"server", options_.name}, {"error", s.message()}});
    }
  }
  std::lock_guard<std::mutex> lock(cert_mu_);
  return cert_;
}

void CppRestHttpServer::ConfigureTls(boost::asio::ssl::context& ctx) {
  SSL_CTX* ssl = ctx.native_handle();
  SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  std::shared_ptr<const CertifiedKey> ck = CurrentCertificate();
  if (!ck) return;  // the handshake fails: no certificate
  SSL_CTX_use_certificate(ssl, ck->chain.front().get());
  for (size_t i = 1; i < ck->chain.size(); ++i) {
    SSL_CTX_add1_chain_cert(ssl, ck->chain[i].get());
  }
  SSL_CTX_use_PrivateKey(ssl, ck->key.get());
}

Status CppRestHttpServer::OpenListener(int port) {
  std::string scheme = options_.tls_enabled ? "https" : "http";
  std::string host = options_.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  std::string url = scheme + "://" + host + ":" + std::to_string(port) + "/";
  try {
    listener::http_listener_config cfg;
    if (options_.tls_enabled) {
      cfg.set_ssl_context_callback([this](boost::asio::ssl::context& ctx) {
        try {
          ConfigureTls(ctx);
        } catch (...) {
          // Leave the context without a certificate: this handshake fails, the next may not.
        }
      });
    }
    auto l = std::make_unique<listener::http_listener>(url, cfg);
    l->support([this](http::http_request req) { Serve(std::move(req)); });
    l->open().wait();
    listener_ = std::move(l);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Unavailable(options_.name + ": listen on " + url + ": " + e.what());
  }
}

Status CppRestHttpServer::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return Status::FailedPrecondition(options_.name + ": already started");
    started_ = true;
  }
  if (options_.tls_enabled) {
    if (!options_.tls.cert_pem.empty()) {
      DK_RETURN_IF_ERROR(SetCertificate(options_.tls.cert_pem, options_.tls.key_pem));
    } else {
      DK_RETURN_IF_ERROR(LoadFromFiles());
    }
  }
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    int port = options_.port;
    ScopedFd probe;
    if (port == 0) {
      DK_ASSIGN_OR_RETURN(port, ProbeFreePort(options_.host, &probe));
    }
    last = OpenListener(port);
    if (last.ok()) {
      port_.store(port);
      logger_->Info("Started HTTP server", {{"server", options_.name}, {"url", BaseUrl()}});
      return Status::Ok();
    }
    if (options_.port != 0) break;  // a fixed port: no point retrying
  }
  return last;
}

Result<std::string> CppRestHttpServer::ReadBody(http::http_request& req) {
  std::string body;
  size_t declared = 0;
  if (req.headers().match(http::header_names::content_length, declared) &&
      declared > options_.max_body_bytes) {
    return Status::InvalidArgument("body of " + std::to_string(declared) +
                                   " bytes exceeds the limit of " +
                                   std::to_string(options_.max_body_bytes));
  }
  auto stream = req.body();
  if (!stream.is_valid()) return body;
  auto sb = stream.streambuf();
  std::vector<uint8_t> chunk(64 * 1024);
  for (;;) {
    size_t n = sb.getn(chunk.data(), chunk.size()).get();
    if (n == 0) break;
    body.append(reinterpret_cast<const char*>(chunk.data()), n);
    if (body.size() > options_.max_body_bytes) {
      return Status::InvalidArgument("body exceeds the limit of " +
                                     std::to_string(options_.max_body_bytes) + " bytes");
    }
  }
  return body;
}

void CppRestHttpServer::Serve(http::http_request req) {
  auto reply = [&req](int status, const std::string& content_type, std::string body,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
    try {
      http::http_response out(static_cast<http::status_code>(status));
      for (const auto& [k, v] : headers) out.headers().add(k, v);
      size_t size = body.size();
      out.set_body(Concurrency::streams::bytestream::open_istream(std::move(body)), size,
                   content_type);
      // Wait until the response is written, so that Shutdown() (which waits for in-flight
      // requests) never closes a connection under a response still being sent.
      req.reply(out).wait();
    } catch (...) {
    }
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_) {
      reply(503, "text/plain; charset=utf-8", "server is shutting down\n",
            {{"Connection", "close"}});
      return;
    }
    ++in_flight_;
  }
  struct Done {
    CppRestHttpServer* s;
    ~Done() {
      std::lock_guard<std::mutex> lock(s->mu_);
      if (--s->in_flight_ == 0) s->idle_.notify_all();
    }
  } done{this};

  try {
    Request r;
    r.method = req.method();
    const web::uri& uri = req.request_uri();
    r.path = uri.path();
    r.query = uri.query();
    for (const auto& [k, v] : req.headers()) r.headers.emplace_back(k, v);
    r.remote_address = req.remote_address();
    r.tls = options_.tls_enabled;
    auto body = ReadBody(req);
    if (!body.ok()) {
      reply(413, "text/plain; charset=utf-8", body.status().message() + "\n",
            {{"Connection", "close"}});
      return;
    }
    r.body = std::move(body).value();
    Response resp = router_.Dispatch(r);
    reply(resp.status, resp.content_type, std::move(resp.body), resp.headers);
  } catch (const std::exception& e) {
    logger_->Error("HTTP handler failed", {{"server", options_.name}, {"error", e.what()}});
    reply(500, "text/plain; charset=utf-8", "internal error\n", {});
  } catch (...) {
    reply(500, "text/plain; charset=utf-8", "internal error\n", {});
  }
}

void CppRestHttpServer::Shutdown(std::chrono::milliseconds drain) {
  std::unique_ptr<listener::http_listener> l;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    draining_ = true;
    idle_.wait_for(lock, drain, [this] { return in_flight_ == 0; });
    l = std::move(listener_);
  }
  if (l) {
    try {
      l->close().wait();
    } catch (...) {
    }
    logger_->Info("Stopped HTTP server", {{"server", options_.name}});
  }
}

}  // namespace

Result<std::unique_ptr<HttpServer>> NewHttpServer(HttpServerOptions options) {
  return Create(std::move(options));
}

}  // namespace dk::svc
