// S3Bucket: the Bucket of an S3-compatible object store, through libs3's S3Client (which
// signs, retries transient failures with backoff, and maps S3 errors to dk::Status).
//
// Objects larger than the client's multipart threshold go up as multipart uploads.
// Last-modified times are parsed from the server's ISO 8601 (listings) and HTTP-date (HEAD)
// forms; a time that cannot be parsed gives Corruption rather than a wrong age.
//
// Thread safety: thread-safe (the S3Client is).
#pragma once

#include <memory>
#include <string>

#include "libreplica/bucket.h"
#include "libs3/s3_client.h"

namespace dk::replica {

class S3Bucket final : public Bucket {
 public:
  // Uses `client`, which must outlive the bucket (it may be shared by several buckets).
  explicit S3Bucket(s3::S3Client* client);
  // Owns `client`.
  explicit S3Bucket(std::unique_ptr<s3::S3Client> client);
  // Creates the client from `options` (validated by libs3).
  static Result<std::unique_ptr<S3Bucket>> Create(s3::S3Options options);

  std::string Describe() const override;
  Status Put(std::string_view key, ByteView data) override;
  Result<Bytes> Get(std::string_view key) override;
  Result<BucketObject> Head(std::string_view key) override;
  Status Delete(std::string_view key) override;
  Status List(std::string_view prefix, const ListFn& fn) override;

  s3::S3Client* client() const { return client_; }

 private:
  std::unique_ptr<s3::S3Client> owned_;
  s3::S3Client* client_;
};

}  // namespace dk::replica
