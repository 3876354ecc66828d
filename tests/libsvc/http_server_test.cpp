#include "libsvc/http_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "libsvc/standard_endpoints.h"
#include "test_certs.h"
#include "test_client.h"

namespace dk::svc {
namespace {

using testing::ClientRequest;
using testing::Fetch;
using testing::Pem;
using testing::SelfSigned;

std::unique_ptr<HttpServer> MustCreate(HttpServerOptions options) {
  options.host = "127.0.0.1";
  auto s = NewHttpServer(std::move(options));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(s).value() : nullptr;
}

ClientRequest Get(std::string path) {
  ClientRequest r;
  r.path = std::move(path);
  return r;
}

TEST(HttpServerTest, PortZeroBindsAFreePortAndServesStandardEndpoints) {
  HealthChecks health;
  MetricsRegistry metrics;
  metrics.AddCounter("requests_total", "Requests.")->Inc();
  bool ready = false;
  health.AddReadiness(
      "cache", [&] { return ready ? Status::Ok() : Status::Unavailable("cache has not synced"); });
  auto server = MustCreate({});
  AddStandardEndpoints(server.get(), &health, &metrics);
  ASSERT_TRUE(server->Start().ok());
  ASSERT_GT(server->port(), 0);
  EXPECT_EQ(server->BaseUrl(), "http://127.0.0.1:" + std::to_string(server->port()));

  auto h = Fetch(server->port(), Get("/healthz"));
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok");

  auto r = Fetch(server->port(), Get("/readyz"));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("[-]cache failed: cache has not synced"), std::string::npos) << r.body;
  ready = true;
  r = Fetch(server->port(), Get("/readyz?verbose"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("[+]cache ok"), std::string::npos) << r.body;

  auto m = Fetch(server->port(), Get("/metrics"));
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.headers.find("text/plain; version=0.0.4"), std::string::npos) << m.headers;
  EXPECT_NE(m.body.find("diffkeeper_requests_total 1\n"), std::string::npos) << m.body;

  EXPECT_EQ(Fetch(server->port(), Get("/nope")).status, 404);
}

TEST(HttpServerTest, TwoServersOnPortZeroGetDistinctPorts) {
  auto a = MustCreate({});
  auto b = MustCreate({});
  a->Handle("GET", "/", [](const Request&) { return Response::Text(200, "a"); });
  b->Handle("GET", "/", [](const Request&) { return Response::Text(200, "b"); });
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(b->Start().ok());
  EXPECT_NE(a->port(), b->port());
  EXPECT_EQ(Fetch(a->port(), Get("/")).body, "a");
  EXPECT_EQ(Fetch(b->port(), Get("/")).body, "b");
}

TEST(HttpServerTest, FixedPortInUseIsUnavailable) {
  auto a = MustCreate({});
  ASSERT_TRUE(a->Start().ok());
  HttpServerOptions o;
  o.port = a->port();
  auto b = MustCreate(o);
  Status s = b->Start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
}

TEST(HttpServerTest, HandlerSeesMethodPathQueryHeadersAndBody) {
  auto server = MustCreate({});
  std::promise<Request> seen;
  server->Handle("POST", "/mutate", [&](const Request& r) {
    seen.set_value(r);
    Response resp = Response::Json(201, "{\"ok\":true}");
    resp.headers.emplace_back("X-Test", "yes");
    return resp;
  });
  ASSERT_TRUE(server->Start().ok());
  ClientRequest req;
  req.method = "POST";
  req.path = "/mutate?timeout=5s";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = "{\"kind\":\"AdmissionReview\"}";
  auto resp = Fetch(server->port(), req);
  ASSERT_TRUE(resp.ok) << resp.error;
  EXPECT_EQ(resp.status, 201);
  EXPECT_EQ(resp.body, "{\"ok\":true}");
  EXPECT_NE(resp.headers.find("X-Test: yes"), std::string::npos) << resp.headers;
  EXPECT_NE(resp.headers.find("application/json"), std::string::npos) << resp.headers;
  Request r = seen.get_future().get();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/mutate");
  EXPECT_EQ(r.QueryParam("timeout"), "5s");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.body, "{\"kind\":\"AdmissionReview\"}");
  EXPECT_EQ(r.remote_address, "127.0.0.1");
}

TEST(HttpServerTest, BodiesOverTheLimitAreRefusedBeforeTheHandler) {
  HttpServerOptions o;
  o.max_body_bytes = 1000;
  auto server = MustCreate(o);
  std::atomic<int> calls{0};
  std::atomic<size_t> last{0};
  server->Handle("POST", "/", [&](const Request& r) {
    ++calls;
    last = r.body.size();
    return Response::Text(200, "ok");
  });
  ASSERT_TRUE(server->Start().ok());
  ClientRequest req;
  req.method = "POST";
  req.body = std::string(1000, 'x');
  EXPECT_EQ(Fetch(server->port(), req).status, 200);
  EXPECT_EQ(last.load(), 1000u);
  req.body = std::string(1001, 'x');
  auto big = Fetch(server->port(), req);
  EXPECT_EQ(big.status, 413) << big.error;
  req.chunked = true;  // no Content-Length: the limit applies while reading
  req.body = std::string(50000, 'y');
  EXPECT_EQ(Fetch(server->port(), req).status, 413);
  req.body = std::string(900, 'y');
  EXPECT_EQ(Fetch(server->port(), req).status, 200);
  EXPECT_EQ(calls.load(), 2);
}

TEST(HttpServerTest, TlsServesTheCertificateAndRotatesItForNewConnections) {
  Pem first = SelfSigned("first");
  Pem second = SelfSigned("second");
  HttpServerOptions o;
  o.tls_enabled = true;
  o.tls.cert_pem = first.cert;
  o.tls.key_pem = first.key;
  auto server = MustCreate(o);
  server->Handle("GET", "/hello", [](const Request& r) {
    return Response::Text(200, r.tls ? "hello over tls" : "plain");
  });
  ASSERT_TRUE(server->Start().ok());
  EXPECT_EQ(server->BaseUrl().rfind("https://127.0.0.1:", 0), 0u);

  auto resp = Fetch(server->port(), Get("/hello"), first.cert);
  ASSERT_TRUE(resp.ok) << resp.error;
  EXPECT_EQ(resp.body, "hello over tls");
  EXPECT_EQ(resp.peer_cn, "first");
  // A client that trusts only the second certificate fails until the rotation.
  EXPECT_FALSE(Fetch(server->port(), Get("/hello"), second.cert).ok);

  // A mismatched pair is refused and the old certificate stays.
  Status bad = server->SetCertificate(second.cert, first.key);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("does not match"), std::string::npos) << bad;
  EXPECT_EQ(Fetch(server->port(), Get("/hello"), first.cert).peer_cn, "first");

  ASSERT_TRUE(server->SetCertificate(second.cert, second.key).ok());
  resp = Fetch(server->port(), Get("/hello"), second.cert);
  ASSERT_TRUE(resp.ok) << resp.error;
  EXPECT_EQ(resp.peer_cn, "second");
}

TEST(HttpServerTest, TlsFromFilesReloadsWhenTheFilesChange) {
  char tmpl[] = "/tmp/libsvc-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::filesystem::path dir(tmpl);
  auto write = [&](const Pem& p) {
    // Write-then-rename, as the kubelet updates a mounted Secret.
    std::ofstream(dir / "tls.crt.tmp") << p.cert;
    std::ofstream(dir / "tls.key.tmp") << p.key;
    std::filesystem::rename(dir / "tls.key.tmp", dir / "tls.key");
    std::filesystem::rename(dir / "tls.crt.tmp", dir / "tls.crt");
  };
  Pem first = SelfSigned("file-one");
  Pem second = SelfSigned("file-two");
  write(first);
  HttpServerOptions o;
  o.tls_enabled = true;
  o.tls.cert_file = (dir / "tls.crt").string();
  o.tls.key_file = (dir / "tls.key").string();
  o.tls.reload_check_interval = std::chrono::milliseconds(0);
  auto server = MustCreate(o);
  server->Handle("GET", "/", [](const Request&) { return Response::Text(200, "x"); });
  ASSERT_TRUE(server->Start().ok());
  EXPECT_EQ(Fetch(server->port(), Get("/"), first.cert).peer_cn, "file-one");
  // Make the mtime differ even on coarse-timestamp filesystems.
  write(second);
  auto t = std::filesystem::last_write_time(dir / "tls.crt");
  std::filesystem::last_write_time(dir / "tls.crt", t + std::chrono::seconds(2));
  EXPECT_EQ(Fetch(server->port(), Get("/"), second.cert).peer_cn, "file-two");
  // ReloadCertificate() reports a broken file and keeps serving the last good one.
  std::ofstream(dir / "tls.key") << "garbage";
  EXPECT_EQ(server->ReloadCertificate().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Fetch(server->port(), Get("/"), second.cert).peer_cn, "file-two");
  server->Shutdown(std::chrono::milliseconds(0));
  std::filesystem::remove_all(dir);
}

TEST(HttpServerTest, BadTlsMaterialFailsStartWithAClearError) {
  HttpServerOptions o;
  o.tls_enabled = true;
  EXPECT_EQ(NewHttpServer(o).status().code(), StatusCode::kInvalidArgument);
  o.tls.cert_file = "/nonexistent/tls.crt";
  o.tls.key_file = "/nonexistent/tls.key";
  auto s = MustCreate(o);
  Status st = s->Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/tls.crt"), std::string::npos) << st;
  HttpServerOptions plain;
  auto p = MustCreate(plain);
  EXPECT_EQ(p->SetCertificate("x", "y").code(), StatusCode::kFailedPrecondition);
}

TEST(HttpServerTest, ShutdownDrainsInFlightRequestsAndRefusesNewOnes) {
  auto server = MustCreate({});
  std::promise<void> entered;
  std::promise<void> release;
  auto release_future = release.get_future().share();
  server->Handle("GET", "/slow", [&](const Request&) {
    entered.set_value();
    release_future.wait();
    return Response::Text(200, "finished");
  });
  server->Handle("GET", "/fast", [](const Request&) { return Response::Text(200, "fast"); });
  ASSERT_TRUE(server->Start().ok());
  int port = server->port();
  auto slow = std::async(std::launch::async, [port] { return Fetch(port, Get("/slow")); });
  entered.get_future().wait();
  std::thread stopper([&] { server->Shutdown(std::chrono::seconds(20)); });
  // While draining, new requests are refused (or the listener is already closed).
  testing::ClientResponse during;
  for (int i = 0; i < 200; ++i) {
    during = Fetch(port, Get("/fast"));
    if (!during.ok || during.status == 503) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(!during.ok || during.status == 503) << during.status;
  release.set_value();
  auto done = slow.get();
  EXPECT_EQ(done.status, 200);
  EXPECT_EQ(done.body, "finished");
  stopper.join();
  EXPECT_FALSE(Fetch(port, Get("/fast")).ok);  // closed
}

TEST(HttpServerTest, HandlerExceptionsBecome500) {
  auto server = MustCreate({});
  server->Handle("GET", "/", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  ASSERT_TRUE(server->Start().ok());
  EXPECT_EQ(Fetch(server->port(), Get("/")).status, 500);
}

}  // namespace
}  // namespace dk::svc
