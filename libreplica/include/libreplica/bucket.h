// Bucket: the object-store operations libreplica needs, on one bucket, keyed by full object
// key. It is the seam between replication and the network: S3Bucket (s3_bucket.h) talks to an
// S3-compatible server through libs3; MemoryBucket (memory_bucket.h) keeps objects in memory
// for tests; FaultBucket (fault_bucket.h) wraps another bucket and fails chosen calls.
//
// Errors are dk::Status values as libs3 maps them: NotFound (no such key or bucket),
// PermissionDenied (credentials), FailedPrecondition ("clock skew: …"), Unavailable
// (retryable: endpoint down, 5xx), Corruption, InvalidArgument. Implementations retry
// transient failures themselves; a Status returned here already survived the retries.
//
// Thread safety: implementations must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "libstate/bytes.h"
#include "libstate/result.h"

namespace dk::replica {

struct BucketObject {
  std::string key;  // the full key
  uint64_t size = 0;
  int64_t last_modified_ns = 0;  // server time of the last write (second resolution on S3)
};

// Called for each listed object; a failed Status stops the listing and is returned by List.
using ListFn = std::function<Status(const BucketObject&)>;

class Bucket {
 public:
  virtual ~Bucket() = default;
  // Where the bucket is, for messages: "s3 bucket dk-test at http://127.0.0.1:9000".
  virtual std::string Describe() const = 0;
  // Creates or replaces `key` with `data`; on success the object is complete and visible.
  virtual Status Put(std::string_view key, ByteView data) = 0;
  // The object's bytes; NotFound when the key (or the bucket) does not exist.
  virtual Result<Bytes> Get(std::string_view key) = 0;
  // Size and last modification time; NotFound when missing.
  virtual Result<BucketObject> Head(std::string_view key) = 0;
  // Deletes `key`; OK when it does not exist.
  virtual Status Delete(std::string_view key) = 0;
  // Calls `fn` for every object whose key starts with `prefix`, in ascending key order, one
  // page at a time (memory does not grow with the number of objects).
  virtual Status List(std::string_view prefix, const ListFn& fn) = 0;
};

}  // namespace dk::replica
