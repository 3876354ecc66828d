#include "test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace dk::svc::testing {
namespace {

std::string Serialize(const ClientRequest& r) {
  std::string s = r.method + " " + r.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [k, v] : r.headers) s += k + ": " + v + "\r\n";
  if (r.chunked) {
    s += "Transfer-Encoding: chunked\r\n\r\n";
    const size_t piece = 4096;
    for (size_t off = 0; off < r.body.size(); off += piece) {
      std::string part = r.body.substr(off, piece);
      char len[32];
      std::snprintf(len, sizeof(len), "%zx\r\n", part.size());
      s += len + part + "\r\n";
    }
    s += "0\r\n\r\n";
  } else {
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT") {
      s += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    }
    s += "\r\n" + r.body;
  }
  return s;
}

void Parse(const std::string& raw, ClientResponse* out) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || raw.compare(0, 9, "HTTP/1.1 ") != 0) {
    out->error = "malformed response: " + raw.substr(0, 200);
    return;
  }
  out->status = std::atoi(raw.c_str() + 9);
  out->headers = raw.substr(0, end);
  std::string body = raw.substr(end + 4);
  if (out->headers.find("Transfer-Encoding: chunked") != std::string::npos) {
    std::string decoded;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t eol = body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t len = std::strtoul(body.substr(pos, eol - pos).c_str(), nullptr, 16);
      if (len == 0) break;
      decoded += body.substr(eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    body = decoded;
  }
  out->body = body;
  out->ok = true;
}

}  // namespace

ClientResponse Fetch(int port, const ClientRequest& request, const std::string& trusted_ca_pem) {
  ClientResponse out;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    out.error = "connect failed";
    close(fd);
    return out;
  }
  std::string wire = Serialize(request);
  std::string raw;
  if (trusted_ca_pem.empty()) {
    size_t off = 0;
    while (off < wire.size()) {
      ssize_t n = write(fd, wire.data() + off, wire.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    char buf[16384];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, static_cast<size_t>(n));
    close(fd);
    Parse(raw, &out);
    return out;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  BIO* bio = BIO_new_mem_buf(trusted_ca_pem.data(), static_cast<int>(trusted_ca_pem.size()));
  X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
  X509_free(ca);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) {
    char err[256];
    ERR_error_string_n(ERR_get_error(), err, sizeof(err));
    out.error = std::string("TLS handshake failed: ") + err;
  } else {
    X509* peer = SSL_get1_peer_certificate(ssl);
    if (peer != nullptr) {
      char cn[256] = {0};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
      out.peer_cn = cn;
      X509_free(peer);
    }
    SSL_write(ssl, wire.data(), static_cast<int>(wire.size()));
    char buf[16384];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) raw.append(buf, static_cast<size_t>(n));
    Parse(raw, &out);
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return out;
}

}  // namespace dk::svc::testing
