#include "libreplica/s3_bucket.h"

#include "libreplica/head.h"

namespace dk::replica {
namespace {

// S3 sends ISO 8601 in listings and an HTTP date in HEAD responses.
Result<int64_t> ParseLastModified(std::string_view key, std::string_view s) {
  auto t = ParseRfc3339(s);
  if (t.ok()) return t;
  t = ParseHttpDate(s);
  if (t.ok()) return t;
  return Status::Corruption("object " + std::string(key) + ": unreadable Last-Modified \"" +
                            std::string(s) + "\"");
}

}  // namespace

S3Bucket::S3Bucket(s3::S3Client* client) : client_(client) {}

S3Bucket::S3Bucket(std::unique_ptr<s3::S3Client> client)
    : owned_(std::move(client)), client_(owned_.get()) {}

Result<std::unique_ptr<S3Bucket>> S3Bucket::Create(s3::S3Options options) {
  DK_ASSIGN_OR_RETURN(std::unique_ptr<s3::S3Client> client,
                      s3::S3Client::Create(std::move(options)));
  return std::make_unique<S3Bucket>(std::move(client));
}

std::string S3Bucket::Describe() const {
  return "s3 bucket " + client_->options().bucket + " at " + client_->options().endpoint;
}

Status S3Bucket::Put(std::string_view key, ByteView data) {
  if (data.size() > client_->options().multipart_threshold) {
    s3::PutLargeOptions opts;
    opts.resume_pending = false;
    opts.abort_on_failure = true;
    auto r = client_->PutLarge(key, data, opts);
    return r.ok() ? Status::Ok() : r.status();
  }
  auto r = client_->PutObject(key, data);
  return r.ok() ? Status::Ok() : r.status();
}

Result<Bytes> S3Bucket::Get(std::string_view key) { return client_->GetObject(key); }

Result<BucketObject> S3Bucket::Head(std::string_view key) {
  DK_ASSIGN_OR_RETURN(s3::ObjectInfo info, client_->HeadObject(key));
  DK_ASSIGN_OR_RETURN(int64_t t, ParseLastModified(key, info.last_modified));
  return BucketObject{std::string(key), info.size, t};
}

Status S3Bucket::Delete(std::string_view key) { return client_->DeleteObject(key); }

Status S3Bucket::List(std::string_view prefix, const ListFn& fn) {
  s3::ListOptions opts;
  opts.prefix = std::string(prefix);
  while (true) {
    DK_ASSIGN_OR_RETURN(s3::ListPage page, client_->ListObjectsV2(opts));
    for (const auto& o : page.objects) {
      DK_ASSIGN_OR_RETURN(int64_t t, ParseLastModified(o.key, o.last_modified));
      DK_RETURN_IF_ERROR(fn(BucketObject{o.key, o.size, t}));
    }
    if (!page.truncated || page.next_continuation_token.empty()) return Status::Ok();
    opts.continuation_token = page.next_continuation_token;
  }
}

}  // namespace dk::replica
