// Definitions S3Client's source files share (private to libs3).
#pragma once

#include <mutex>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include "http_transport.h"
#include "libs3/s3_client.h"

namespace dk::s3 {

struct S3Client::Request {
  std::string method;
  bool bucket_level = false;  // true: the bucket itself; false: object `key`
  std::string key;
  KeyValues query;    // raw names and values
  KeyValues headers;  // extra headers to send and sign (range, content-type …)
  ByteView body;
  // CompleteMultipartUpload can fail after its 200 OK has been sent: the <Error> is in the body.
  bool error_in_2xx_body = false;
};

struct S3Client::Response : HttpResponse {};

struct S3Client::JitterSource {
  std::mutex mu;
  std::mt19937_64 rng;
};

// Lower-case hex MD5 of `data` (what S3 returns as the ETag of a plainly stored object or part).
std::string Md5Hex(ByteView data);

// The ETag S3 gives an object assembled from parts with these MD5s: hex(MD5(concatenated binary
// MD5s)) + "-" + count. Empty when an ETag is not 32 hex digits (e.g. SSE-KMS).
std::string MultipartEtag(std::span<const std::string> part_md5_hex);

}  // namespace dk::s3
