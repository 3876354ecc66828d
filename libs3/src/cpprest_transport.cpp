// The cpprestsdk adapter of libs3: the only file that includes cpprestsdk (and Boost.Asio)
// headers. cpprestsdk reports failures by throwing; every call into it is wrapped so that no
// exception leaves this file.
#include <cpprest/http_client.h>
#include <cpprest/rawptrstream.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "http_transport.h"

namespace dk::s3 {
namespace {

namespace http = web::http;
namespace client = web::http::client;

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// Loads `ca_file` into a throwaway context to report a bad file at construction, not on the
// first request.
Status CheckCaFile(const std::string& ca_file) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        &SSL_CTX_free);
  if (!ctx) return Status::Internal("SSL_CTX_new failed: " + OpenSslError());
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1) {
    return Status::InvalidArgument("CA file " + ca_file + ": " + OpenSslError());
  }
  return Status::Ok();
}

std::string ToLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

class CppRestTransport final : public HttpTransport {
 public:
  CppRestTransport(std::string base_url, std::unique_ptr<client::http_client> client)
      : base_url_(std::move(base_url)), client_(std::move(client)) {
    // What cpprestsdk sends as Host for this base URI (see Send()).
    const web::uri& base = client_->base_uri();
    host_ = base.host();
    if (!base.is_port_default()) host_ += ":" + std::to_string(base.port());
    host_ = ToLower(host_);
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    try {
      http::http_request msg(request.method);
      msg.set_request_uri(web::uri(request.target));
      if (!request.body.empty() || request.method == "PUT" || request.method == "POST") {
        // Sends straight from the caller's buffer (no copy); the length is known up front.
        static const uint8_t kNoData = 0;
        auto body = concurrency::streams::rawptr_stream<uint8_t>::open_istream(
            request.body.empty() ? &kNoData : request.body.data(), request.body.size());
        msg.set_body(body, request.body.size());
        msg.headers().remove(http::header_names::content_type);
      }
      for (const auto& [k, v] : request.headers) {
        if (ToLower(k) == "host") {
          // cpprestsdk takes an explicit Host header for the TLS server name (SNI and certificate
          // check), which breaks when it carries a port; let it write its own, which must be the
          // one that was signed.
          if (ToLower(v) != host_) {
            return Status::Internal("Host header \"" + v + "\" does not match the endpoint " +
                                    base_url_);
          }
          continue;
        }
        msg.headers().remove(k);
        msg.headers().add(k, v);
      }
      http::http_response resp = client_->request(msg).get();
      HttpResponse out;
      out.status = resp.status_code();
      for (const auto& [k, v] : resp.headers()) out.headers.emplace_back(ToLower(k), v);
      std::vector<unsigned char> body = resp.extract_vector().get();
      out.body.assign(body.begin(), body.end());
      return out;
    } catch (const std::exception& e) {
      return Status::Unavailable(request.method + " " + base_url_ + ": " + e.what());
    } catch (...) {
      return Status::Unavailable(request.method + " " + base_url_ + ": unknown error");
    }
  }

 private:
  std::string base_url_;
  std::unique_ptr<client::http_client> client_;
  std::string host_;  // lower-case "host[:port]" cpprestsdk writes
};

}  // namespace

Result<std::unique_ptr<HttpTransport>> NewCppRestTransport(const TransportOptions& options) {
  if (!options.ca_file.empty()) DK_RETURN_IF_ERROR(CheckCaFile(options.ca_file));
  try {
    client::http_client_config cfg;
    cfg.set_timeout(options.timeout);
    cfg.set_chunksize(1u << 20);  // fewer, larger socket writes for multi-MiB parts
    cfg.set_validate_certificates(true);
    if (!options.ca_file.empty()) {
      const std::string ca_file = options.ca_file;
      cfg.set_ssl_context_callback([ca_file](boost::asio::ssl::context& ctx) {
        SSL_CTX* ssl = ctx.native_handle();
        SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
        // Adds to the system roots cpprestsdk already loaded; checked in CheckCaFile.
        SSL_CTX_load_verify_locations(ssl, ca_file.c_str(), nullptr);
        ERR_clear_error();
      });
    }
    auto http = std::make_unique<client::http_client>(web::uri(options.base_url), cfg);
    return std::unique_ptr<HttpTransport>(
        std::make_unique<CppRestTransport>(options.base_url, std::move(http)));
  } catch (const std::exception& e) {
    return Status::InvalidArgument("S3 endpoint " + options.base_url + ": " + e.what());
  }
}

}  // namespace dk::s3
