// FaultBucket: wraps a Bucket and fails the calls a test chooses — "after the objects, before
// the head", "the endpoint is down" — to check replication's crash ordering and recovery.
//
// The rule sees the operation ("PUT", "GET", "HEAD", "DELETE", "LIST") and the key (the prefix
// for LIST) and returns OK to let the call through or the Status to fail it with. A rule may
// also block (e.g. wait on a latch) to hold a call in flight.
//
// Thread safety: thread-safe; SetRule may be called while calls are running.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "libreplica/bucket.h"

namespace dk::replica {

using FaultRule = std::function<Status(std::string_view op, std::string_view key)>;

class FaultBucket final : public Bucket {
 public:
  explicit FaultBucket(Bucket* base) : base_(base) {}  // `base` not owned

  void SetRule(FaultRule rule);
  void ClearRule() { SetRule(nullptr); }

  std::string Describe() const override { return base_->Describe(); }
  Status Put(std::string_view key, ByteView data) override;
  Result<Bytes> Get(std::string_view key) override;
  Result<BucketObject> Head(std::string_view key) override;
  Status Delete(std::string_view key) override;
  Status List(std::string_view prefix, const ListFn& fn) override;

 private:
  Status Check(std::string_view op, std::string_view key);

  Bucket* const base_;
  std::mutex mu_;
  FaultRule rule_;
};

}  // namespace dk::replica
