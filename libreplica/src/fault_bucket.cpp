#include "libreplica/fault_bucket.h"

namespace dk::replica {

void FaultBucket::SetRule(FaultRule rule) {
  std::lock_guard<std::mutex> l(mu_);
  rule_ = std::move(rule);
}

Status FaultBucket::Check(std::string_view op, std::string_view key) {
  FaultRule rule;
  {
    std::lock_guard<std::mutex> l(mu_);
    rule = rule_;
  }
  return rule ? rule(op, key) : Status::Ok();
}

Status FaultBucket::Put(std::string_view key, ByteView data) {
  DK_RETURN_IF_ERROR(Check("PUT", key));
  return base_->Put(key, data);
}

Result<Bytes> FaultBucket::Get(std::string_view key) {
  DK_RETURN_IF_ERROR(Check("GET", key));
  return base_->Get(key);
}

Result<BucketObject> FaultBucket::Head(std::string_view key) {
  DK_RETURN_IF_ERROR(Check("HEAD", key));
  return base_->Head(key);
}

Status FaultBucket::Delete(std::string_view key) {
  DK_RETURN_IF_ERROR(Check("DELETE", key));
  return base_->Delete(key);
}

Status FaultBucket::List(std::string_view prefix, const ListFn& fn) {
  DK_RETURN_IF_ERROR(Check("LIST", prefix));
  return base_->List(prefix, fn);
}

}  // namespace dk::replica
