// S3Client against a real S3-compatible server (versitygw, started by e2e/s3/server.sh through
// the ctest fixture `s3_server`). The server's address and keys come from the file named by
// DK_S3_ENV (DIR/env written by `server.sh start DIR`).
//
// Labels: integration;s3. Each test works under its own key prefix, so tests can run in parallel
// against one server.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "libs3/s3_client.h"
#include "s3_server_env.h"

namespace dk::s3 {
namespace {

using std::chrono::milliseconds;

using dk::testing::S3ServerEnv;

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string RandomData(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

// The wall clock, shifted (to provoke RequestTimeTooSkewed).
class SkewedClock final : public Clock {
 public:
  explicit SkewedClock(std::chrono::seconds skew) : skew_(skew) {}
  std::chrono::system_clock::time_point Now() override {
    return std::chrono::system_clock::now() + skew_;
  }
  void SleepFor(milliseconds d) override { RealClock()->SleepFor(d); }

 private:
  std::chrono::seconds skew_;
};

class S3IntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& env = S3ServerEnv();
    ASSERT_TRUE(env.count("S3_ENDPOINT"))
        << "no S3 server: set DK_S3_ENV to the env file written by `e2e/s3/server.sh start DIR` "
           "(ctest does this through the s3_server fixture)";
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string(info->name()) + "-" + std::to_string(::getpid()) + "/";
  }

  S3Options Options() {
    const auto& env = S3ServerEnv();
    S3Options o;
    o.endpoint = env.at("S3_ENDPOINT");
    o.region = env.at("S3_REGION");
    o.bucket = env.at("S3_BUCKET");
    o.credentials = {env.at("S3_ACCESS_KEY"), env.at("S3_SECRET_KEY"), ""};
    o.request_timeout = milliseconds(20'000);
    o.retry.max_attempts = 3;
    o.retry.initial_backoff = milliseconds(20);
    o.retry.max_backoff = milliseconds(200);
    return o;
  }

  std::unique_ptr<S3Client> NewClient(const S3Options& o) {
    Result<std::unique_ptr<S3Client>> c = S3Client::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  std::unique_ptr<S3Client> NewClient() { return NewClient(Options()); }

  std::string prefix_;
};

TEST_F(S3IntegrationTest, PutGetHeadDeleteWithAwkwardKeys) {
  auto c = NewClient();
  ASSERT_NE(c, nullptr);
  const std::vector<std::string> keys = {
      prefix_ + "plain",
      prefix_ + "with space and+plus",
      prefix_ + "dir/sub/deep.bin",
      prefix_ + "caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x98\x80",
      prefix_ + "sym!$&'()*,;=@~_-.x",
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE(keys[i]);
    const std::string data = RandomData(1000 + i * 777, i);
    Result<PutResult> put = c->PutObject(keys[i], AsBytes(data));
    ASSERT_TRUE(put.ok()) << put.status();
    EXPECT_FALSE(put->etag.empty());

    Result<Bytes> got = c->GetObject(keys[i]);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(AsChars(*got) == data);

    Result<ObjectInfo> head = c->HeadObject(keys[i]);
    ASSERT_TRUE(head.ok()) << head.status();
    EXPECT_EQ(head->size, data.size());
    EXPECT_EQ(head->etag, put->etag);
  }
  Result<std::vector<ObjectInfo>> listed = c->ListAllObjects(prefix_);
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> names;
  for (const ObjectInfo& o : *listed) names.push_back(o.key);
  std::vector<std::string> want = keys;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(names, want);

  for (const std::string& k : keys) {
    ASSERT_TRUE(c->DeleteObject(k).ok()) << k;
    EXPECT_TRUE(c->HeadObject(k).status().IsNotFound()) << k;
  }
  EXPECT_TRUE(c->DeleteObject(keys[0]).ok()) << "deleting a missing key is OK";
}

TEST_F(S3IntegrationTest, EmptyObjectAndRanges) {
  auto c = NewClient();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->PutObject(prefix_ + "empty", {}).ok());
  Result<Bytes> empty = c->GetObject(prefix_ + "empty");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());

  const std::string data = RandomData(100'000, 7);
  ASSERT_TRUE(c->PutObject(prefix_ + "r", AsBytes(data)).ok());
  Result<Bytes> mid = c->GetObject(prefix_ + "r", ByteRange{12'345, 1000});
  ASSERT_TRUE(mid.ok()) << mid.status();
  EXPECT_TRUE(AsChars(*mid) == data.substr(12'345, 1000));
  Result<Bytes> tail = c->GetObject(prefix_ + "r", ByteRange{99'990, std::nullopt});
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_TRUE(AsChars(*tail) == data.substr(99'990));
  Result<Bytes> beyond = c->GetObject(prefix_ + "r", ByteRange{200'000, 10});
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.status().code(), StatusCode::kInvalidArgument) << beyond.status();
}

TEST_F(S3IntegrationTest, ListPaginatesWithContinuationTokens) {
  constexpr int kKeys = 2500;
  // Put them from 4 threads through one client (it is thread-safe).
  auto c = NewClient();
  ASSERT_NE(c, nullptr);
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < kKeys; i = next++) {
        char name[16];
        std::snprintf(name, sizeof(name), "k%05d", i);
        if (!c->PutObject(prefix_ + name, AsBytes(std::string(name))).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  ListOptions list;
  list.prefix = prefix_;
  list.max_keys = 1000;
  std::vector<size_t> page_sizes;
  std::vector<std::string> keys;
  for (;;) {
    Result<ListPage> page = c->ListObjectsV2(list);
    ASSERT_TRUE(page.ok()) << page.status();
    page_sizes.push_back(page->objects.size());
    for (const ObjectInfo& o : page->objects) {
      keys.push_back(o.key);
      EXPECT_EQ(o.size, 6u);
    }
    if (!page->truncated) break;
    ASSERT_FALSE(page->next_continuation_token.empty());
    list.continuation_token = page->next_continuation_token;
    ASSERT_LT(page_sizes.size(), 10u) << "pagination does not end";
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{1000, 1000, 500}));
  ASSERT_EQ(keys.size(), static_cast<size_t>(kKeys));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(keys.front(), prefix_ + "k00000");
  EXPECT_EQ(keys.back(), prefix_ + "k02499");

  // Small pages and delimiters.
  Result<std::vector<ObjectInfo>> all = c->ListAllObjects(prefix_ + "k000", 7);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 100u);
  ListOptions grouped;
  grouped.prefix = prefix_;
  grouped.delimiter = "0";
  grouped.max_keys = 1000;
  Result<ListPage> g = c->ListObjectsV2(grouped);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->common_prefixes, (std::vector<std::string>{prefix_ + "k0"}));
}

TEST_F(S3IntegrationTest, MultipartUploadOf40MiB) {
  auto c = NewClient();
  ASSERT_NE(c, nullptr);
  const std::string data = RandomData(40 * kMiB, 40);
  const auto t0 = std::chrono::steady_clock::now();
  Result<PutLargeResult> r = c->PutLarge(prefix_ + "big", AsBytes(data));
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parts_total, 3);  // 16 + 16 + 8 MiB
  EXPECT_EQ(r->parts_uploaded, 3);
  EXPECT_NE(r->etag.find("-3"), std::string::npos) << r->etag;

  Result<ObjectInfo> head = c->HeadObject(prefix_ + "big");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, data.size());
  Result<Bytes> got = c->GetObject(prefix_ + "big");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), data.size());
  EXPECT_TRUE(AsChars(*got) == data) << "content differs";
  Result<std::vector<MultipartUploadInfo>> pending = c->ListMultipartUploads(prefix_);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_TRUE(pending->empty());
  std::printf("PutLarge 40 MiB: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(t1 - t0).count()));
}

TEST_F(S3IntegrationTest, InterruptedMultipartUploadIsResumedByANewClient) {
  S3Options o = Options();
  o.part_size = 8 * kMiB;
  const std::string key = prefix_ + "resumed";
  const std::string data = RandomData(40 * kMiB + 123, 41);  // 6 parts: 5 x 8 MiB + 123 B
  {
    auto first = NewClient(o);
    ASSERT_NE(first, nullptr);
    Result<std::string> id = first->CreateMultipartUpload(key);
    ASSERT_TRUE(id.ok()) << id.status();
    for (int n : {1, 2, 4}) {
      Result<UploadedPart> part = first->UploadPart(
          key, *id, n, AsBytes(data).subspan(static_cast<size_t>(n - 1) * 8 * kMiB, 8 * kMiB));
      ASSERT_TRUE(part.ok()) << part.status();
    }
  }  // the first client "crashes": dropped without completing or aborting

  auto second = NewClient(o);
  ASSERT_NE(second, nullptr);
  PutLargeOptions opts;
  opts.resume_pending = true;  // finds the upload through ListMultipartUploads
  Result<PutLargeResult> r = second->PutLarge(key, AsBytes(data), opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parts_total, 6);
  EXPECT_EQ(r->parts_reused, 3);
  EXPECT_EQ(r->parts_uploaded, 3);

  Result<Bytes> got = second->GetObject(key);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), data.size());
  EXPECT_TRUE(AsChars(*got) == data) << "resumed object is not byte-exact";
  Result<std::vector<MultipartUploadInfo>> pending = second->ListMultipartUploads(prefix_);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
}

TEST_F(S3IntegrationTest, ResumeByUploadIdReplacesAPartWithDifferentContent) {
  S3Options o = Options();
  o.part_size = 5 * kMiB;
  o.multipart_threshold = 5 * kMiB;
  const std::string key = prefix_ + "by-id";
  const std::string data = RandomData(12 * kMiB, 42);  // 3 parts
  std::string upload_id;
  {
    auto first = NewClient(o);
    ASSERT_NE(first, nullptr);
    Result<std::string> id = first->CreateMultipartUpload(key);
    ASSERT_TRUE(id.ok()) << id.status();
    upload_id = *id;
    ASSERT_TRUE(first->UploadPart(key, upload_id, 1, AsBytes(data).subspan(0, 5 * kMiB)).ok());
    // Part 2 went up with other bytes (e.g. the file changed before the crash).
    const std::string wrong(5 * kMiB, 'w');
    ASSERT_TRUE(first->UploadPart(key, upload_id, 2, AsBytes(wrong)).ok());
  }
  auto second = NewClient(o);
  ASSERT_NE(second, nullptr);
  Result<std::vector<UploadedPart>> parts = second->ListParts(key, upload_id);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].size, 5 * kMiB);

  PutLargeOptions opts;
  opts.resume_upload_id = upload_id;
  Result<PutLargeResult> r = second->PutLarge(key, AsBytes(data), opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->upload_id, upload_id);
  EXPECT_EQ(r->parts_reused, 1);
  EXPECT_EQ(r->parts_uploaded, 2);
  Result<Bytes> got = second->GetObject(key);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(AsChars(*got) == data);

  // Resuming the same (now completed) upload again finds the object and uploads nothing.
  Result<PutLargeResult> again = second->PutLarge(key, AsBytes(data), opts);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->parts_uploaded, 0);
}

TEST_F(S3IntegrationTest, AbortDiscardsAnUpload) {
  auto c = NewClient();
  ASSERT_NE(c, nullptr);
  Result<std::string> id = c->CreateMultipartUpload(prefix_ + "aborted");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(c->UploadPart(prefix_ + "aborted", *id, 1, AsBytes(std::string("x"))).ok());
  ASSERT_TRUE(c->AbortMultipartUpload(prefix_ + "aborted", *id).ok());
  EXPECT_TRUE(c->ListParts(prefix_ + "aborted", *id).status().IsNotFound());
  EXPECT_TRUE(c->HeadObject(prefix_ + "aborted").status().IsNotFound());
}

TEST_F(S3IntegrationTest, WrongSecretKeyIsPermissionDeniedWithTheServersCode) {
  S3Options o = Options();
  o.credentials.secret_key = "not-the-secret";
  auto c = NewClient(o);
  ASSERT_NE(c, nullptr);
  Result<PutResult> put = c->PutObject(prefix_ + "x", AsBytes(std::string("x")));
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), StatusCode::kPermissionDenied) << put.status();
  EXPECT_NE(put.status().message().find("SignatureDoesNotMatch"), std::string::npos)
      << put.status();
  EXPECT_EQ(put.status().message().find("not-the-secret"), std::string::npos);
  EXPECT_FALSE(put.status().retryable());

  Result<ListPage> list = c->ListObjectsV2({});
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), StatusCode::kPermissionDenied) << list.status();
  // HEAD has no body: the code comes from the HTTP status.
  EXPECT_EQ(c->HeadObject(prefix_ + "x").status().code(), StatusCode::kPermissionDenied);
}

TEST_F(S3IntegrationTest, UnknownAccessKeyIsPermissionDenied) {
  S3Options o = Options();
  o.credentials.access_key = "AKNOBODY";
  auto c = NewClient(o);
  ASSERT_NE(c, nullptr);
  Result<Bytes> r = c->GetObject(prefix_ + "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status();
}

TEST_F(S3IntegrationTest, MissingBucketIsNotFound) {
  S3Options o = Options();
  o.bucket = "no-such-bucket-dk";
  auto c = NewClient(o);
  ASSERT_NE(c, nullptr);
  Result<ListPage> list = c->ListObjectsV2({});
  ASSERT_FALSE(list.ok());
  EXPECT_TRUE(list.status().IsNotFound()) << list.status();
  EXPECT_NE(list.status().message().find("NoSuchBucket"), std::string::npos) << list.status();
  Result<PutResult> put = c->PutObject("k", AsBytes(std::string("x")));
  ASSERT_FALSE(put.ok());
  EXPECT_TRUE(put.status().IsNotFound()) << put.status();
}

TEST_F(S3IntegrationTest, MissingKeyIsNotFound) {
  auto c = NewClient();
  ASSERT_NE(c, nullptr);
  Result<Bytes> r = c->GetObject(prefix_ + "missing");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status();
  EXPECT_NE(r.status().message().find("NoSuchKey"), std::string::npos) << r.status();
  EXPECT_TRUE(c->HeadObject(prefix_ + "missing").status().IsNotFound());
}

TEST_F(S3IntegrationTest, SkewedClockIsReportedAsClockSkew) {
  SkewedClock clock(std::chrono::hours(2));
  S3Options o = Options();
  o.clock = &clock;
  auto c = NewClient(o);
  ASSERT_NE(c, nullptr);
  Result<Bytes> r = c->GetObject(prefix_ + "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("clock skew"), std::string::npos) << r.status();
}

TEST_F(S3IntegrationTest, EndpointDownIsUnavailableAfterBoundedRetries) {
  const int port = ClosedPort();
  ASSERT_NE(port, 0);
  S3Options o = Options();
  o.endpoint = "http://127.0.0.1:" + std::to_string(port);
  o.retry.max_attempts = 3;
  o.retry.initial_backoff = milliseconds(10);
  o.retry.max_backoff = milliseconds(50);
  o.request_timeout = milliseconds(2000);
  auto c = NewClient(o);
  ASSERT_NE(c, nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  Result<Bytes> r = c->GetObject("k");
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(r.status().retryable());
  EXPECT_NE(r.status().message().find("gave up after 3 attempts"), std::string::npos) << r.status();
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST_F(S3IntegrationTest, TlsWithACustomCaFile) {
  const auto& env = S3ServerEnv();
  ASSERT_TRUE(env.count("S3_TLS_ENDPOINT"));
  S3Options o = Options();
  o.endpoint = env.at("S3_TLS_ENDPOINT");
  o.ca_file = env.at("S3_CA_FILE");
  auto c = NewClient(o);
  ASSERT_NE(c, nullptr);
  const std::string data = RandomData(3 * kMiB, 3);
  Result<PutResult> put = c->PutObject(prefix_ + "tls", AsBytes(data));
  ASSERT_TRUE(put.ok()) << put.status();
  Result<Bytes> got = c->GetObject(prefix_ + "tls");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(AsChars(*got) == data);

  // Without the CA the server's certificate is not trusted.
  S3Options untrusted = o;
  untrusted.ca_file.clear();
  untrusted.retry.max_attempts = 1;
  auto u = NewClient(untrusted);
  ASSERT_NE(u, nullptr);
  Result<Bytes> denied = u->GetObject(prefix_ + "tls");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kUnavailable) << denied.status();
}

}  // namespace
}  // namespace dk::s3
