// MemoryBucket: a Bucket held in memory, for tests (and for agent tests that need a bucket
// without a server). Last-modified times come from a settable clock, so tests can age objects
// without sleeping. It counts calls by kind so tests can check what replication sent.
//
// Thread safety: thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "libreplica/bucket.h"
#include "libstate/options.h"

namespace dk::replica {

struct BucketCallCounts {
  uint64_t put = 0, get = 0, head = 0, del = 0, list = 0;
  uint64_t put_bytes = 0;
};

class MemoryBucket final : public Bucket {
 public:
  // `clock` gives last-modified times (empty = the system clock).
  explicit MemoryBucket(ClockFn clock = {});

  std::string Describe() const override { return "memory bucket"; }
  Status Put(std::string_view key, ByteView data) override;
  Result<Bytes> Get(std::string_view key) override;
  Result<BucketObject> Head(std::string_view key) override;
  Status Delete(std::string_view key) override;
  Status List(std::string_view prefix, const ListFn& fn) override;

  // Direct access for tests (not counted).
  std::optional<Bytes> Peek(std::string_view key) const;
  void PokeForTest(std::string_view key, Bytes data);
  void SetLastModifiedForTest(std::string_view key, int64_t ns);
  std::vector<std::string> Keys(std::string_view prefix = "") const;
  BucketCallCounts counts() const;
  void ResetCounts();
  // Every mutating call in order: "PUT <key>" / "DELETE <key>".
  std::vector<std::string> WriteLog() const;

 private:
  struct Entry {
    Bytes data;
    int64_t last_modified_ns = 0;
  };
  int64_t Now() const;

  ClockFn clock_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> objects_;
  BucketCallCounts counts_;
  std::vector<std::string> write_log_;
};

}  // namespace dk::replica
