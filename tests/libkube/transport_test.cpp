// Tests of the cpprestsdk transport against a scripted local HTTP server (plain HTTP on
// 127.0.0.1, port 0), and of its validation of TLS material.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <thread>

#include "libkube/cpprest_transport.h"

namespace dk::kube {
namespace {

// Accepts one connection, reads the request head, then runs `script` with the socket.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<void(int fd, const std::string& head)> script) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 4), 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, script] {
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::string head;
      char c;
      while (head.find("\r\n\r\n") == std::string::npos && read(fd, &c, 1) == 1) head.push_back(c);
      // Read a Content-Length body too, so the script sees the whole request.
      size_t pos = head.find("Content-Length:");
      if (pos != std::string::npos) {
        size_t n = std::stoul(head.substr(pos + 15));
        std::string body(n, '\0');
        size_t got = 0;
        while (got < n) {
          ssize_t r = read(fd, body.data() + got, n - got);
          if (r <= 0) break;
          got += static_cast<size_t>(r);
        }
        head += body;
      }
      script(fd, head);
      close(fd);
    });
  }
  ~OneShotServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int listen_fd_;
  int port_ = 0;
  std::thread thread_;
};

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

std::string Chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

std::unique_ptr<HttpTransport> Transport(const std::string& url) {
  RestConfig config;
  config.server = url;
  config.request_timeout = std::chrono::seconds(10);
  auto t = NewCppRestTransport(config, nullptr);
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(t).value();
}

TEST(CppRestTransportTest, SendReturnsAnyHttpStatusWithItsBody) {
  std::promise<std::string> head;
  OneShotServer server([&](int fd, const std::string& h) {
    head.set_value(h);
    const std::string body = "{\"kind\":\"Status\",\"code\":404}";
    WriteAll(fd, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  });
  HttpRequest req;
  req.method = "GET";
  req.path = "/api/v1/namespaces/a/configmaps/b?resourceVersion=0";
  req.headers.emplace_back("Authorization", "Bearer t");
  auto r = Transport(server.url())->Send(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status_code, 404);
  EXPECT_EQ(r->body, "{\"kind\":\"Status\",\"code\":404}");
  std::string h = head.get_future().get();
  EXPECT_EQ(h.rfind("GET /api/v1/namespaces/a/configmaps/b?resourceVersion=0 HTTP/1.1\r\n", 0), 0u)
      << h;
  EXPECT_NE(h.find("Authorization:Bearer t\r\n"), std::string::npos) << h;
}

TEST(CppRestTransportTest, SendsTheBodyWithTheExactContentType) {
  std::promise<std::string> request;
  OneShotServer server([&](int fd, const std::string& r) {
    request.set_value(r);
    WriteAll(fd, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}");
  });
  HttpRequest req;
  req.method = "PATCH";
  req.path = "/api/v1/namespaces/a/configmaps/b?fieldManager=m";
  req.content_type = "application/apply-patch+yaml";
  req.body = "{\"data\":{\"k\":\"h\xc3\xa9\"}}";
  auto r = Transport(server.url())->Send(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status_code, 201);
  std::string got = request.get_future().get();
  EXPECT_EQ(got.rfind("PATCH /api/v1/namespaces/a/configmaps/b?fieldManager=m HTTP/1.1\r\n", 0), 0u)
      << got;
  EXPECT_NE(got.find("Content-Type:application/apply-patch+yaml\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("Content-Length:" + std::to_string(req.body.size()) + "\r\n"),
            std::string::npos)
      << got;
  EXPECT_EQ(got.substr(got.size() - req.body.size()), req.body);
}

TEST(CppRestTransportTest, StreamDeliversEachChunkBeforeTheNextIsSent) {
  std::promise<void> first_seen;
  auto first_seen_future = first_seen.get_future();
  bool server_waited = false;
  OneShotServer server([&](int fd, const std::string&) {
    WriteAll(fd,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n");
    WriteAll(fd, Chunk("{\"type\":\"ADDED\",\"obj"));
    // Only continue once the client has seen the first piece: proves no buffering until EOF.
    server_waited =
        first_seen_future.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    WriteAll(fd, Chunk("ect\":{}}\n"));
    WriteAll(fd, "0\r\n\r\n");
  });
  std::string got;
  int pieces = 0;
  HttpRequest req;
  req.path = "/api/v1/configmaps?watch=true";
  auto r = Transport(server.url())
               ->Stream(
                   req,
                   [&](std::string_view piece) {
                     if (pieces++ == 0) first_seen.set_value();
                     got.append(piece);
                     return true;
                   },
                   nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status_code, 200);
  EXPECT_EQ(got, "{\"type\":\"ADDED\",\"object\":{}}\n");
  EXPECT_GE(pieces, 2);
  EXPECT_TRUE(server_waited);
}

TEST(CppRestTransportTest, StreamCollectsTheBodyOfAnErrorStatus) {
  OneShotServer server([&](int fd, const std::string&) {
    const std::string body = "{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":410}";
    WriteAll(fd, "HTTP/1.1 410 Gone\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n" + body);
  });
  bool called = false;
  auto r = Transport(server.url())
               ->Stream(
                   HttpRequest{},
                   [&](std::string_view) {
                     called = true;
                     return true;
                   },
                   nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status_code, 410);
  EXPECT_NE(r->body.find("Expired"), std::string::npos);
  EXPECT_FALSE(called);
}

TEST(CppRestTransportTest, CancelEndsAnIdleStream) {
  std::promise<void> release_server;
  auto release = release_server.get_future();
  OneShotServer server([&](int fd, const std::string&) {
    WriteAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    WriteAll(fd, Chunk("{}\n"));
    release.wait_for(std::chrono::seconds(20));  // idle, like a quiet watch
  });
  Cancellation cancel;
  std::thread canceller;  // joined, not detached: it may still be inside Cancel() when the
                          // stream has ended, and `cancel` must outlive it
  auto r = Transport(server.url())
               ->Stream(
                   HttpRequest{},
                   [&](std::string_view) {
                     if (!canceller.joinable()) canceller = std::thread([&] { cancel.Cancel(); });
                     return true;
                   },
                   &cancel);
  if (canceller.joinable()) canceller.join();
  EXPECT_TRUE(cancel.IsCancelled());
  EXPECT_TRUE(r.ok()) << r.status();
  release_server.set_value();
}

TEST(CppRestTransportTest, ConnectionFailureIsUnavailable) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  close(fd);  // nobody listens there now
  auto t = Transport("http://127.0.0.1:" + std::to_string(port));
  auto r = t->Send(HttpRequest{});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(r.status().retryable());
  auto s = t->Stream(
      HttpRequest{}, [](std::string_view) { return true; }, nullptr);
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status();
}

// A self-signed EC certificate and its key, as PEM.
struct Pem {
  std::string cert, key;
};

Pem SelfSigned(const char* cn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  Pem out;
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* data;
  long n = BIO_get_mem_data(b, &data);
  out.cert.assign(data, static_cast<size_t>(n));
  BIO_free(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  n = BIO_get_mem_data(b, &data);
  out.key.assign(data, static_cast<size_t>(n));
  BIO_free(b);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

TEST(CppRestTransportTest, ValidatesTlsMaterialUpFront) {
  Pem a = SelfSigned("a"), b = SelfSigned("b");
  RestConfig config;
  config.server = "https://127.0.0.1:6443";
  config.source = "kubeconfig /x";
  config.ca_pem = a.cert;
  config.client_cert_pem = a.cert;
  config.client_key_pem = a.key;
  EXPECT_TRUE(NewCppRestTransport(config, nullptr).ok());

  RestConfig mismatch = config;
  mismatch.client_key_pem = b.key;
  auto r = NewCppRestTransport(mismatch, nullptr);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("does not match"), std::string::npos) << r.status();

  RestConfig bad_ca = config;
  bad_ca.ca_pem = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
  r = NewCppRestTransport(bad_ca, nullptr);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("kubeconfig /x: certificate authority"), std::string::npos)
      << r.status();

  RestConfig bad_key = config;
  bad_key.client_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  EXPECT_EQ(NewCppRestTransport(bad_key, nullptr).status().code(), StatusCode::kInvalidArgument);

  RestConfig no_url = config;
  no_url.server = "127.0.0.1:6443";
  EXPECT_EQ(NewCppRestTransport(no_url, nullptr).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dk::kube
