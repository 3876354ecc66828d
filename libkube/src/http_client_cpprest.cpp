// The cpprestsdk adapter: the only file that includes cpprestsdk (and Boost.Asio) headers.
// cpprestsdk reports failures by throwing; every call into it is wrapped so that no exception
// leaves this file.
#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <cpprest/producerconsumerstream.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "libkube/cpprest_transport.h"

namespace dk::kube {
namespace {

namespace http = web::http;
namespace client = web::http::client;

constexpr size_t kMaxErrorBody = 1u << 20;
// How long Stream waits, after a cancellation, for the request to wind down.
constexpr std::chrono::seconds kSettleAfterCancel{5};

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

int NoPassphrase(char*, int, int, void*) { return 0; }  // never prompt on a terminal

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

Result<std::vector<X509Ptr>> ParseCertificates(const std::string& pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal("BIO_new_mem_buf failed");
  std::vector<X509Ptr> certs;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
    certs.emplace_back(x);
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  if (certs.empty()) {
    return Status::InvalidArgument(what + ": no PEM certificate could be parsed");
  }
  return certs;
}

Result<PkeyPtr> ParsePrivateKey(const std::string& pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal("BIO_new_mem_buf failed");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return Status::InvalidArgument(what + ": not a PEM private key (" + OpenSslError() + ")");
  }
  return key;
}

// Parsed TLS material, shared (read-only) by the callbacks that configure each connection.
struct TlsMaterial {
  std::vector<X509Ptr> ca;
  std::vector<X509Ptr> client_chain;  // leaf first
  PkeyPtr client_key;
};

void ConfigureSslContext(boost::asio::ssl::context& ctx, const TlsMaterial& tls) {
  SSL_CTX* ssl = ctx.native_handle();
  SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
  if (!tls.ca.empty()) {
    // Trust exactly the configured CAs, not the system roots cpprestsdk loaded (as client-go).
    X509_STORE* store = X509_STORE_new();
    for (const X509Ptr& c : tls.ca) X509_STORE_add_cert(store, c.get());
    SSL_CTX_set_cert_store(ssl, store);  // takes ownership
  }
  if (!tls.client_chain.empty() && tls.client_key) {
    SSL_CTX_use_certificate(ssl, tls.client_chain.front().get());
    for (size_t i = 1; i < tls.client_chain.size(); ++i) {
      X509_up_ref(tls.client_chain[i].get());
      SSL_CTX_add_extra_chain_cert(ssl, tls.client_chain[i].get());  // takes the reference
    }
    SSL_CTX_use_PrivateKey(ssl, tls.client_key.get());
  }
  ERR_clear_error();
}

// State shared between cpprestsdk's I/O threads (producer) and the Stream() caller (consumer).
struct StreamState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> chunks;
  bool done = false;
  bool cancelled = false;
  bool failed = false;
  std::string error;
};

// A response body sink that hands every piece of body to StreamState as it arrives (the stock
// producer_consumer_buffer would hold small reads back until a requested size is available).
class ChunkSink final
    : public concurrency::streams::details::basic_producer_consumer_buffer<uint8_t> {
 public:
  explicit ChunkSink(std::shared_ptr<StreamState> state)
      : basic_producer_consumer_buffer<uint8_t>(512), state_(std::move(state)) {}

 protected:
  pplx::task<size_t> _putn(const uint8_t* ptr, size_t count) override {
    Push(ptr, count);
    return pplx::task_from_result(count);
  }
  pplx::task<int_type> _putc(uint8_t ch) override {
    Push(&ch, 1);
    return pplx::task_from_result<int_type>(ch);
  }

 private:
  void Push(const uint8_t* ptr, size_t count) {
    {
      std::lock_guard<std::mutex> g(state_->mu);
      if (state_->cancelled) return;
      state_->chunks.emplace_back(reinterpret_cast<const char*>(ptr), count);
    }
    state_->cv.notify_all();
  }
  std::shared_ptr<StreamState> state_;
};

class CppRestTransport final : public HttpTransport {
 public:
  CppRestTransport(const RestConfig& config, std::shared_ptr<const TlsMaterial> tls, Logger* logger,
                   CppRestTransportOptions options)
      : server_(config.server), host_header_(config.tls_server_name), logger_(logger) {
    client_ = MakeClient(config, tls, config.request_timeout);
    stream_client_ = MakeClient(config, tls, options.stream_idle_timeout);
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    try {
      http::http_request msg = BuildMessage(request);
      http::http_response resp = client_->request(msg).get();
      HttpResponse out;
      out.status_code = resp.status_code();
      out.content_type = resp.headers().content_type();
      out.body = resp.extract_utf8string(/*ignore_content_type=*/true).get();
      return out;
    } catch (const std::exception& e) {
      return Failure(request, e.what());
    }
  }

  Result<HttpResponse> Stream(const HttpRequest& request, const BodyChunkHandler& on_chunk,
                              Cancellation* cancel) override {
    auto state = std::make_shared<StreamState>();
    pplx::cancellation_token_source cts;
    CancellationCallback on_cancel(cancel, [state, cts]() {
      {
        std::lock_guard<std::mutex> g(state->mu);
        state->cancelled = true;  // before the failure that closing the connection causes
      }
      state->cv.notify_all();
      cts.cancel();  // closes the connection
    });
    HttpResponse out;
    try {
      http::http_request msg = BuildMessage(request);
      concurrency::streams::streambuf<uint8_t> sink(std::make_shared<ChunkSink>(state));
      msg.set_response_stream(sink.create_ostream());
      http::http_response resp = stream_client_->request(msg, cts.get_token()).get();
      out.status_code = resp.status_code();
      out.content_type = resp.headers().content_type();
      resp.content_ready().then([state](pplx::task<http::http_response> t) {
        std::string error;
        bool failed = false;
        try {
          t.get();
        } catch (const std::exception& e) {
          failed = true;
          error = e.what();
        }
        {
          std::lock_guard<std::mutex> g(state->mu);
          state->done = true;
          state->failed = failed;
          state->error = std::move(error);
        }
        state->cv.notify_all();
      });
    } catch (const std::exception& e) {
      if (cancel != nullptr && cancel->IsCancelled()) return out;
      return Failure(request, e.what());
    }

    // After a cancellation: waits (bounded) until the response's completion handler has run,
    // so that no I/O of this request is left in flight holding its state when Stream returns
    // (LeakSanitizer saw that state unreleased at exit, CI stop 9).
    auto settle = [&](std::unique_lock<std::mutex>& lock) {
      state->cv.wait_for(lock, kSettleAfterCancel, [&] { return state->done; });
    };
    const bool success = out.status_code >= 200 && out.status_code <= 299;
    for (;;) {
      std::string chunk;
      {
        std::unique_lock<std::mutex> lock(state->mu);
        state->cv.wait(lock,
                       [&] { return !state->chunks.empty() || state->done || state->cancelled; });
        if (state->cancelled) {
          settle(lock);
          return out;
        }
        if (state->chunks.empty()) break;  // done and drained
        chunk = std::move(state->chunks.front());
        state->chunks.pop_front();
      }
      if (success) {
        if (!on_chunk(chunk)) {
          {
            std::lock_guard<std::mutex> g(state->mu);
            state->cancelled = true;
          }
          cts.cancel();
          std::unique_lock<std::mutex> lock(state->mu);
          settle(lock);
          return out;
        }
      } else if (out.body.size() < kMaxErrorBody) {
        out.body += chunk;
      }
    }
    std::lock_guard<std::mutex> g(state->mu);
    if (state->failed && !state->cancelled) return Failure(request, state->error);
    return out;
  }

 private:
  static std::unique_ptr<client::http_client> MakeClient(const RestConfig& config,
                                                         std::shared_ptr<const TlsMaterial> tls,
                                                         std::chrono::milliseconds timeout) {
    client::http_client_config cfg;
    cfg.set_timeout(timeout);
    cfg.set_validate_certificates(!config.insecure_skip_tls_verify);
    cfg.set_ssl_context_callback(
        [tls](boost::asio::ssl::context& ctx) { ConfigureSslContext(ctx, *tls); });
    return std::make_unique<client::http_client>(web::uri(config.server), cfg);
  }

  http::http_request BuildMessage(const HttpRequest& request) const {
    http::http_request msg(request.method);
    msg.set_request_uri(request.path);
    for (const auto& [k, v] : request.headers) msg.headers().add(k, v);
    // cpprestsdk checks the server certificate against the Host header when one is set.
    if (!host_header_.empty()) msg.headers().add("Host", host_header_);
    if (!request.content_type.empty()) {
      // A byte-vector stream: cpprestsdk's std::string overloads type-pun a char stream buffer
      // into an unsigned char one (undefined behaviour that UBSan reports).
      std::vector<unsigned char> bytes(request.body.begin(), request.body.end());
      const size_t size = bytes.size();
      msg.set_body(concurrency::streams::bytestream::open_istream(std::move(bytes)), size,
                   request.content_type);
    }
    return msg;
  }

  Status Failure(const HttpRequest& request, std::string_view what) const {
    logger_->Debug("HTTP request failed",
                   {{"method", request.method}, {"server", server_}, {"error", what}});
    return Status::Unavailable(request.method + " " + server_ + " failed: " + std::string(what));
  }

  const std::string server_;
  const std::string host_header_;
  Logger* const logger_;
  std::unique_ptr<client::http_client> client_;
  std::unique_ptr<client::http_client> stream_client_;
};

}  // namespace

Result<std::unique_ptr<HttpTransport>> NewCppRestTransport(const RestConfig& config, Logger* logger,
                                                           CppRestTransportOptions options) {
  if (logger == nullptr) logger = NullLogger();
  const std::string src = config.source.empty() ? "rest config" : config.source;
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return Status::InvalidArgument(src + ": server \"" + config.server + "\" is not an URL");
  }
  auto tls = std::make_shared<TlsMaterial>();
  if (!config.ca_pem.empty()) {
    DK_ASSIGN_OR_RETURN(tls->ca, ParseCertificates(config.ca_pem, src + ": certificate authority"));
  }
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return Status::InvalidArgument(src + ": client certificate and key must be given together");
  }
  if (!config.client_cert_pem.empty()) {
    DK_ASSIGN_OR_RETURN(tls->client_chain,
                        ParseCertificates(config.client_cert_pem, src + ": client certificate"));
    DK_ASSIGN_OR_RETURN(tls->client_key,
                        ParsePrivateKey(config.client_key_pem, src + ": client key"));
    if (X509_check_private_key(tls->client_chain.front().get(), tls->client_key.get()) != 1) {
      ERR_clear_error();
      return Status::InvalidArgument(src +
                                     ": the client key does not match the client certificate");
    }
  }
  try {
    std::unique_ptr<HttpTransport> t =
        std::make_unique<CppRestTransport>(config, std::move(tls), logger, options);
    return t;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(src + ": server \"" + config.server + "\": " + e.what());
  }
}

}  // namespace dk::kube
