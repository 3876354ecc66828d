// S3Client over the in-memory FakeS3: request shapes, addressing, retries and backoff, error
// mapping end to end, listing, multipart and PutLarge resume.
#include "libs3/s3_client.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "fake_s3.h"

namespace dk::s3 {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;
using testing::FakeS3;
using testing::MakeResponse;
using testing::RecordedRequest;
using testing::S3ErrorResponse;

constexpr char kSecret[] = "TOPSECRETKEYVALUE";

class CapturingLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view msg, std::initializer_list<LogField> fields) override {
    std::lock_guard<std::mutex> l(mu_);
    std::string line(msg);
    for (const LogField& f : fields) line += " " + f.key + "=" + f.value;
    lines_.push_back(line);
  }
  bool Enabled(LogLevel) const override { return true; }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> l(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

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

class S3ClientTest : public ::testing::Test {
 protected:
  S3Options Options() {
    S3Options o;
    o.endpoint = "http://s3.test:9000";
    o.bucket = "bkt";
    o.region = "eu-central-1";
    o.credentials = {"AKTEST", kSecret, ""};
    o.clock = &clock_;
    o.logger = &logger_;
    o.jitter_seed = 42;
    o.retry.max_attempts = 4;
    o.retry.initial_backoff = milliseconds(100);
    o.retry.max_backoff = milliseconds(1000);
    o.multipart_threshold = 5 * kMiB;
    o.part_size = 5 * kMiB;
    return o;
  }
  std::unique_ptr<S3Client> NewClient(S3Options o) {
    Result<std::unique_ptr<S3Client>> c =
        S3Client::CreateWithTransportForTest(std::move(o), fake_.NewTransport());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  std::unique_ptr<S3Client> NewClient() { return NewClient(Options()); }

  FakeClock clock_;
  CapturingLogger logger_;
  FakeS3 fake_;
};

TEST_F(S3ClientTest, PutGetHeadDeleteRoundTrip) {
  auto c = NewClient();
  const std::string data = "hello, object store";
  Result<PutResult> put = c->PutObject("dir/my key+1.txt", AsBytes(data), {"text/plain"});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->etag, Md5Hex(AsBytes(data)));

  const std::vector<RecordedRequest> reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].target, "/bkt/dir/my%20key%2B1.txt");
  EXPECT_EQ(reqs[0].Header("Host"), "s3.test:9000");
  EXPECT_EQ(reqs[0].Header("Content-Type"), "text/plain");
  EXPECT_EQ(reqs[0].Header("x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(reqs[0].Header("x-amz-content-sha256"), HexSha256(AsBytes(data)));
  EXPECT_EQ(reqs[0].Header("x-amz-security-token"), "");
  const std::string auth = reqs[0].Header("Authorization");
  EXPECT_EQ(auth.rfind("AWS4-HMAC-SHA256 Credential=AKTEST/20130524/eu-central-1/s3/aws4_request, "
                       "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, "
                       "Signature=",
                       0),
            0u)
      << auth;

  Result<Bytes> got = c->GetObject("dir/my key+1.txt");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(AsChars(*got), data);

  Result<ObjectInfo> head = c->HeadObject("dir/my key+1.txt");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, data.size());
  EXPECT_EQ(head->etag, Md5Hex(AsBytes(data)));
  EXPECT_EQ(head->last_modified, "Fri, 24 May 2013 00:00:00 GMT");

  ASSERT_TRUE(c->DeleteObject("dir/my key+1.txt").ok());
  EXPECT_TRUE(c->HeadObject("dir/my key+1.txt").status().IsNotFound());
  EXPECT_TRUE(c->GetObject("dir/my key+1.txt").status().IsNotFound());
  EXPECT_TRUE(c->DeleteObject("dir/my key+1.txt").ok()) << "deleting a missing key is OK";
}

TEST_F(S3ClientTest, UnicodeKeysAreEncodedBytewise) {
  auto c = NewClient();
  const std::string key = "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/x y";
  ASSERT_TRUE(c->PutObject(key, AsBytes(std::string("u"))).ok());
  EXPECT_EQ(fake_.requests().back().target, "/bkt/caf%C3%A9/%E6%97%A5%E6%9C%AC/x%20y");
  EXPECT_EQ(fake_.object(key), "u");
}

TEST_F(S3ClientTest, VirtualHostedStylePutsTheBucketInTheHost) {
  S3Options o = Options();
  o.endpoint = "https://s3.eu-central-1.amazonaws.com";
  o.addressing = AddressingStyle::kVirtualHosted;
  auto c = NewClient(o);
  fake_.set_intercept([](const RecordedRequest&) -> std::optional<Result<HttpResponse>> {
    return Result<HttpResponse>(MakeResponse(200, "", {{"etag", "\"e\""}}));
  });
  ASSERT_TRUE(c->PutObject("a/b c", AsBytes(std::string("x"))).ok());
  ASSERT_TRUE(c->ListObjectsV2({}).status().code() == StatusCode::kIOError);  // empty body
  const auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target, "/a/b%20c");
  EXPECT_EQ(reqs[0].Header("Host"), "bkt.s3.eu-central-1.amazonaws.com");
  EXPECT_EQ(reqs[1].target, "/?list-type=2&max-keys=1000");
}

TEST_F(S3ClientTest, SessionTokenIsSentAndSigned) {
  S3Options o = Options();
  o.credentials.session_token = "SESSIONTOKEN";
  auto c = NewClient(o);
  ASSERT_TRUE(c->PutObject("k", AsBytes(std::string("v"))).ok());
  const RecordedRequest r = fake_.requests().back();
  EXPECT_EQ(r.Header("x-amz-security-token"), "SESSIONTOKEN");
  EXPECT_NE(r.Header("Authorization").find("x-amz-security-token"), std::string::npos);
}

TEST_F(S3ClientTest, RetriesServerErrorsWithJitteredBackoffThenSucceeds) {
  auto c = NewClient();
  int calls = 0;
  fake_.set_intercept([&](const RecordedRequest&) -> std::optional<Result<HttpResponse>> {
    clock_.Advance(milliseconds(1000));  // each attempt takes a second
    if (++calls <= 2) return Result<HttpResponse>(S3ErrorResponse(503, "SlowDown"));
    return std::nullopt;
  });
  ASSERT_TRUE(c->PutObject("k", AsBytes(std::string("v"))).ok());
  EXPECT_EQ(calls, 3);
  const auto sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_GE(sleeps[0], milliseconds(50));
  EXPECT_LE(sleeps[0], milliseconds(100));
  EXPECT_GE(sleeps[1], milliseconds(100));
  EXPECT_LE(sleeps[1], milliseconds(200));
  // Each attempt is signed anew with the clock's time.
  const auto reqs = fake_.requests();
  EXPECT_NE(reqs[0].Header("x-amz-date"), reqs[2].Header("x-amz-date"));
  // The retries were logged, without the secret.
  int retries_logged = 0;
  for (const std::string& line : logger_.lines()) {
    EXPECT_EQ(line.find(kSecret), std::string::npos) << line;
    if (line.rfind("Retrying S3 request", 0) == 0) ++retries_logged;
  }
  EXPECT_EQ(retries_logged, 2);
}

TEST_F(S3ClientTest, HonoursRetryAfterUpToMaxBackoff) {
  auto c = NewClient();
  int calls = 0;
  fake_.set_intercept([&](const RecordedRequest&) -> std::optional<Result<HttpResponse>> {
    if (++calls == 1) {
      return Result<HttpResponse>(MakeResponse(429, "", {{"retry-after", "30"}}));
    }
    return std::nullopt;
  });
  ASSERT_TRUE(c->PutObject("k", AsBytes(std::string("v"))).ok());
  ASSERT_EQ(clock_.sleeps().size(), 1u);
  EXPECT_EQ(clock_.sleeps()[0], milliseconds(1000));  // 30 s asked, capped at max_backoff
}

TEST_F(S3ClientTest, ConnectionErrorsBecomeUnavailableAfterBoundedAttempts) {
  auto c = NewClient();
  fake_.set_intercept([&](const RecordedRequest&) -> std::optional<Result<HttpResponse>> {
    return Result<HttpResponse>(Status::Unavailable("connect: Connection refused"));
  });
  Result<Bytes> r = c->GetObject("k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(r.status().retryable());
  EXPECT_NE(r.status().message().find("gave up after 4 attempts"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("GET bkt/k"), std::string::npos) << r.status();
  EXPECT_EQ(fake_.requests().size(), 4u);
  EXPECT_EQ(clock_.sleeps().size(), 3u);
}

TEST_F(S3ClientTest, StopsRetryingWhenTheTimeBudgetIsSpent) {
  S3Options o = Options();
  o.retry.max_attempts = 100;
  o.retry.max_elapsed = milliseconds(1000);
  auto c = NewClient(o);
  fake_.set_intercept([&](const RecordedRequest&) -> std::optional<Result<HttpResponse>> {
    clock_.Advance(milliseconds(300));  // each attempt takes 300 ms
    return Result<HttpResponse>(S3ErrorResponse(500, "InternalError"));
  });
  Result<Bytes> r = c->GetObject("k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("retry time budget"), std::string::npos) << r.status();
  EXPECT_LT(fake_.requests().size(), 5u);
}

TEST_F(S3ClientTest, PermanentErrorsAreNotRetried) {
  auto c = NewClient();
  fake_.set_intercept([&](const RecordedRequest&) -> std::optional<Result<HttpResponse>> {
    return Result<HttpResponse>(S3ErrorResponse(
        403, "SignatureDoesNotMatch", "The request signature we calculated does not match"));
  });
  Result<PutResult> r = c->PutObject("k", AsBytes(std::string("v")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("SignatureDoesNotMatch"), std::string::npos);
  EXPECT_NE(r.status().message().find("REQ123"), std::string::npos);
  EXPECT_EQ(fake_.requests().size(), 1u);
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(S3ClientTest, ClockSkewIsAFailedPreconditionNamingTheCause) {
  auto c = NewClient();
  fake_.set_intercept([&](const RecordedRequest&) -> std::optional<Result<HttpResponse>> {
    return Result<HttpResponse>(
        MakeResponse(403,
                     "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the "
                     "request time and the current time is too large.</Message><RequestTime>"
                     "20130524T000000Z</RequestTime><ServerTime>2024-05-24T00:00:00Z</ServerTime>"
                     "</Error>"));
  });
  Result<Bytes> r = c->GetObject("k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("clock skew"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("2024-05-24T00:00:00Z"), std::string::npos);
  EXPECT_EQ(fake_.requests().size(), 1u);
}

TEST_F(S3ClientTest, MissingBucketIsNotFound) {
  S3Options o = Options();
  o.bucket = "other-bucket";
  auto c = NewClient(o);
  Result<ListPage> r = c->ListObjectsV2({});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_NE(r.status().message().find("NoSuchBucket"), std::string::npos);
}

TEST_F(S3ClientTest, RangeRequestsAndServersThatIgnoreThem) {
  auto c = NewClient();
  fake_.PutObjectDirect("k", "0123456789");
  Result<Bytes> r = c->GetObject("k", ByteRange{2, 3});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(AsChars(*r), "234");
  EXPECT_EQ(fake_.requests().back().Header("Range"), "bytes=2-4");
  r = c->GetObject("k", ByteRange{7, std::nullopt});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(AsChars(*r), "789");
  EXPECT_EQ(fake_.requests().back().Header("Range"), "bytes=7-");
  EXPECT_EQ(c->GetObject("k", ByteRange{10, 1}).status().code(), StatusCode::kInvalidArgument);

  fake_.set_intercept([](const RecordedRequest&) -> std::optional<Result<HttpResponse>> {
    return Result<HttpResponse>(MakeResponse(200, "0123456789"));  // Range ignored
  });
  r = c->GetObject("k", ByteRange{4, 2});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(AsChars(*r), "45");
}

TEST_F(S3ClientTest, ListAllObjectsFollowsContinuationTokens) {
  for (int i = 0; i < 25; ++i) fake_.PutObjectDirect("p/" + std::to_string(100 + i), "x");
  fake_.PutObjectDirect("q/other", "x");
  auto c = NewClient();
  Result<std::vector<ObjectInfo>> all = c->ListAllObjects("p/", 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 25u);
  EXPECT_EQ(all->front().key, "p/100");
  EXPECT_EQ(all->back().key, "p/124");
  const auto reqs = fake_.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].target, "/bkt?list-type=2&max-keys=10&prefix=p%2F");
  EXPECT_EQ(reqs[1].target, "/bkt?continuation-token=p%2F109&list-type=2&max-keys=10&prefix=p%2F");

  ListOptions bad;
  bad.max_keys = 0;
  EXPECT_EQ(c->ListObjectsV2(bad).status().code(), StatusCode::kInvalidArgument);
  bad.max_keys = 1001;
  EXPECT_EQ(c->ListObjectsV2(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(S3ClientTest, ListAllObjectsRejectsARepeatedToken) {
  auto c = NewClient();
  fake_.set_intercept([](const RecordedRequest&) -> std::optional<Result<HttpResponse>> {
    return Result<HttpResponse>(
        MakeResponse(200,
                     "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>same"
                     "</NextContinuationToken></ListBucketResult>"));
  });
  Result<std::vector<ObjectInfo>> all = c->ListAllObjects("");
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("repeated"), std::string::npos);
}

TEST_F(S3ClientTest, PutLargeUsesOnePutUpToTheThreshold) {
  auto c = NewClient();
  const std::string data = RandomData(5 * kMiB, 1);
  Result<PutLargeResult> r = c->PutLarge("small", AsBytes(data));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parts_total, 0);
  EXPECT_EQ(r->upload_id, "");
  EXPECT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.object("small"), data);
}

TEST_F(S3ClientTest, PutLargeUploadsPartsAndCompletes) {
  auto c = NewClient();
  const std::string data = RandomData(12 * kMiB + 17, 2);
  std::string seen_id;
  PutLargeOptions opts;
  opts.on_upload_id = [&](std::string_view id) {
    seen_id = std::string(id);
    EXPECT_EQ(fake_.CountRequests("PUT", "partNumber="), 0u) << "id reported before any part";
  };
  Result<PutLargeResult> r = c->PutLarge("big", AsBytes(data), opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parts_total, 3);
  EXPECT_EQ(r->parts_uploaded, 3);
  EXPECT_EQ(r->parts_reused, 0);
  EXPECT_EQ(r->upload_id, seen_id);
  EXPECT_EQ(fake_.object("big"), data);
  std::vector<std::string> md5s;
  for (size_t off = 0; off < data.size(); off += 5 * kMiB) {
    md5s.push_back(Md5Hex(AsBytes(std::string_view(data).substr(off, 5 * kMiB))));
  }
  EXPECT_EQ(r->etag, MultipartEtag(md5s));
  EXPECT_EQ(fake_.upload_count(), 0u);
}

TEST_F(S3ClientTest, PutLargeResumesAndUploadsOnlyMissingOrDifferentParts) {
  const std::string data = RandomData(21 * kMiB, 3);  // 5 parts: 4 x 5 MiB + 1 MiB
  std::string upload_id;
  {
    auto first = NewClient();
    Result<std::string> id = first->CreateMultipartUpload("resume");
    ASSERT_TRUE(id.ok());
    upload_id = *id;
    for (int n : {1, 2, 4}) {
      ASSERT_TRUE(first
                      ->UploadPart("resume", upload_id, n,
                                   AsBytes(data).subspan((n - 1) * 5 * kMiB, 5 * kMiB))
                      .ok());
    }
  }                                                                 // "crash"
  fake_.ReplacePartData(upload_id, 2, std::string(5 * kMiB, 'X'));  // wrong content, same size
  fake_.clear_requests();

  auto second = NewClient();
  PutLargeOptions opts;
  opts.resume_upload_id = upload_id;
  Result<PutLargeResult> r = second->PutLarge("resume", AsBytes(data), opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->upload_id, upload_id);
  EXPECT_EQ(r->parts_total, 5);
  EXPECT_EQ(r->parts_reused, 2);    // 1 and 4
  EXPECT_EQ(r->parts_uploaded, 3);  // 2 (different), 3 and 5 (missing)
  EXPECT_EQ(fake_.CountRequests("PUT", "partNumber=2&"), 1u);
  EXPECT_EQ(fake_.CountRequests("PUT", "partNumber=1&"), 0u);
  EXPECT_EQ(fake_.object("resume"), data);
}

TEST_F(S3ClientTest, PutLargeFindsAPendingUploadWithoutItsId) {
  const std::string data = RandomData(11 * kMiB, 4);
  {
    auto first = NewClient();
    Result<std::string> id = first->CreateMultipartUpload("pending");
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(first->UploadPart("pending", *id, 1, AsBytes(data).subspan(0, 5 * kMiB)).ok());
  }
  auto second = NewClient();
  PutLargeOptions opts;
  opts.resume_pending = true;
  Result<PutLargeResult> r = second->PutLarge("pending", AsBytes(data), opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parts_reused, 1);
  EXPECT_EQ(r->parts_uploaded, 2);
  EXPECT_EQ(fake_.object("pending"), data);
}

TEST_F(S3ClientTest, PutLargeResumeOfAnAlreadyCompletedUploadIsDone) {
  const std::string data = RandomData(11 * kMiB, 5);
  auto c = NewClient();
  std::string id;
  PutLargeOptions first;
  first.on_upload_id = [&](std::string_view i) { id = std::string(i); };
  ASSERT_TRUE(c->PutLarge("done", AsBytes(data), first).ok());
  fake_.clear_requests();

  PutLargeOptions again;
  again.resume_upload_id = id;  // completed: NoSuchUpload now
  Result<PutLargeResult> r = c->PutLarge("done", AsBytes(data), again);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parts_uploaded, 0);
  EXPECT_EQ(r->parts_reused, 3);
  EXPECT_EQ(fake_.CountRequests("PUT", ""), 0u);
  EXPECT_EQ(fake_.CountRequests("POST", ""), 0u);

  // Different data under the same key: a new upload is made.
  const std::string other = RandomData(11 * kMiB, 6);
  r = c->PutLarge("done", AsBytes(other), again);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->upload_id, id);
  EXPECT_EQ(r->parts_uploaded, 3);
  EXPECT_EQ(fake_.object("done"), other);
}

TEST_F(S3ClientTest, CompleteWhoseReplyWasLostSucceedsOnRetry) {
  auto c = NewClient();
  const std::string data = RandomData(6 * kMiB, 7);
  bool dropped = false;
  fake_.set_intercept([&](const RecordedRequest& r) -> std::optional<Result<HttpResponse>> {
    if (r.method == "POST" && r.target.find("uploadId=") != std::string::npos && !dropped) {
      dropped = true;
      HttpRequest real;
      real.method = r.method;
      real.target = r.target;
      real.headers = r.headers;
      real.body = AsBytes(r.body);
      fake_.set_intercept(nullptr);
      (void)fake_.Handle(real);  // the server completes the upload ...
      return Result<HttpResponse>(Status::Unavailable("connection reset"));  // ... reply lost
    }
    return std::nullopt;
  });
  Result<PutLargeResult> r = c->PutLarge("lost", AsBytes(data));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(dropped);
  EXPECT_EQ(fake_.object("lost"), data);
}

TEST_F(S3ClientTest, CompleteFailureInsideA200IsRetried) {
  auto c = NewClient();
  const std::string data = RandomData(6 * kMiB, 8);
  int completes = 0;
  fake_.set_intercept([&](const RecordedRequest& r) -> std::optional<Result<HttpResponse>> {
    if (r.method == "POST" && r.target.find("uploadId=") != std::string::npos && ++completes == 1) {
      return Result<HttpResponse>(S3ErrorResponse(200, "InternalError", "try again"));
    }
    return std::nullopt;
  });
  Result<PutLargeResult> r = c->PutLarge("k", AsBytes(data));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(completes, 2);
  EXPECT_EQ(fake_.object("k"), data);
}

TEST_F(S3ClientTest, PutLargeKeepsOrAbortsAFailedUpload) {
  auto c = NewClient();
  const std::string data = RandomData(11 * kMiB, 9);
  fake_.set_intercept([](const RecordedRequest& r) -> std::optional<Result<HttpResponse>> {
    if (r.target.find("partNumber=2") != std::string::npos) {
      return Result<HttpResponse>(S3ErrorResponse(403, "AccessDenied"));
    }
    return std::nullopt;
  });
  Result<PutLargeResult> kept = c->PutLarge("k", AsBytes(data));
  ASSERT_FALSE(kept.ok());
  EXPECT_EQ(kept.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(kept.status().message().find("multipart upload upload-"), std::string::npos)
      << kept.status();
  EXPECT_EQ(fake_.upload_count(), 1u) << "kept for a later resume";

  PutLargeOptions opts;
  opts.abort_on_failure = true;
  Result<PutLargeResult> aborted = c->PutLarge("k2", AsBytes(data), opts);
  ASSERT_FALSE(aborted.ok());
  EXPECT_EQ(fake_.upload_count(), 1u) << "the second upload was aborted";
}

TEST_F(S3ClientTest, ListPartsFollowsMarkers) {
  fake_.list_page_limit = 2;
  auto c = NewClient();
  Result<std::string> id = c->CreateMultipartUpload("k");
  ASSERT_TRUE(id.ok());
  for (int n = 1; n <= 5; ++n) {
    ASSERT_TRUE(c->UploadPart("k", *id, n, AsBytes(std::to_string(n))).ok());
  }
  Result<std::vector<UploadedPart>> parts = c->ListParts("k", *id);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 5u);
  for (int n = 1; n <= 5; ++n) EXPECT_EQ((*parts)[n - 1].part_number, n);
  EXPECT_EQ(fake_.CountRequests("GET", "uploadId="), 3u);
  EXPECT_EQ(c->UploadPart("k", *id, 0, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->UploadPart("k", *id, 10001, {}).status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(c->AbortMultipartUpload("k", *id).ok());
  EXPECT_TRUE(c->AbortMultipartUpload("k", *id).ok()) << "aborting twice is fine";
  EXPECT_TRUE(c->ListParts("k", *id).status().IsNotFound());
}

TEST_F(S3ClientTest, PartSizeGrowsToStayWithin10000Parts) {
  auto c = NewClient();
  EXPECT_EQ(c->PartSizeFor(100 * kMiB), 5 * kMiB);
  EXPECT_EQ(c->PartSizeFor(50000 * kMiB), 5 * kMiB);
  const uint64_t huge = 60000 * kMiB;
  const uint64_t part = c->PartSizeFor(huge);
  EXPECT_EQ(part % kMiB, 0u);
  EXPECT_LE((huge + part - 1) / part, 10000u);
}

TEST_F(S3ClientTest, OptionsAreValidated) {
  const auto invalid = [&](auto mutate) {
    S3Options o = Options();
    mutate(o);
    Result<std::unique_ptr<S3Client>> c =
        S3Client::CreateWithTransportForTest(std::move(o), fake_.NewTransport());
    return !c.ok() && c.status().code() == StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(invalid([](S3Options& o) { o.endpoint = "s3.test"; }));
  EXPECT_TRUE(invalid([](S3Options& o) { o.endpoint = "ftp://s3.test"; }));
  EXPECT_TRUE(invalid([](S3Options& o) { o.endpoint = "http://s3.test/path"; }));
  EXPECT_TRUE(invalid([](S3Options& o) { o.bucket = ""; }));
  EXPECT_TRUE(invalid([](S3Options& o) { o.bucket = "a/b"; }));
  EXPECT_TRUE(invalid([](S3Options& o) { o.region = ""; }));
  EXPECT_TRUE(invalid([](S3Options& o) { o.credentials.secret_key = ""; }));
  EXPECT_TRUE(invalid([](S3Options& o) { o.part_size = 5 * kMiB - 1; }));
  EXPECT_TRUE(invalid([](S3Options& o) { o.retry.max_attempts = 0; }));
  EXPECT_TRUE(invalid([](S3Options& o) {
    o.endpoint = "http://127.0.0.1:9000";
    o.addressing = AddressingStyle::kVirtualHosted;
  }));
  EXPECT_TRUE(invalid([](S3Options& o) {
    o.bucket = "Upper_Case";
    o.addressing = AddressingStyle::kVirtualHosted;
  }));
  EXPECT_FALSE(invalid([](S3Options&) {}));
}

TEST_F(S3ClientTest, CreateReportsAnUnreadableCaFile) {
  S3Options o = Options();
  o.ca_file = "/nonexistent/ca.pem";
  Result<std::unique_ptr<S3Client>> c = S3Client::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("/nonexistent/ca.pem"), std::string::npos);
}

TEST(MultipartEtagTest, IsMd5OfConcatenatedPartMd5s) {
  // md5("a") = 0cc175b9c0f1b6a831c399e269772661, md5("b") = 92eb5ffee6ae2fec3ad71c777531578f.
  EXPECT_EQ(Md5Hex(AsBytes(std::string("a"))), "0cc175b9c0f1b6a831c399e269772661");
  const std::vector<std::string> parts = {"0cc175b9c0f1b6a831c399e269772661",
                                          "92eb5ffee6ae2fec3ad71c777531578f"};
  // md5(0x0cc1…2661 0x92eb…578f) computed independently (Python hashlib).
  EXPECT_EQ(MultipartEtag(parts), "96e024ba2074fe77e8e965ba43a704be-2");
  EXPECT_EQ(MultipartEtag(std::vector<std::string>{"not-hex"}), "");
}

}  // namespace
}  // namespace dk::s3
