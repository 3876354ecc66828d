// Reading from the bucket: verified manifests and chunks, damage reported per object key, the
// prefetching chunk source, and choosing a set by number or time.
#include "libreplica/bucket_reader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "chunk_object.h"
#include "libreplica/fault_bucket.h"
#include "libreplica/memory_bucket.h"
#include "libreplica/replica_test_util.h"
#include "libreplica/replicator.h"

namespace dk::replica {
namespace {

using dk::testing::CaptureOrDie;
using dk::testing::DiffTrees;
using dk::testing::OpenStoreOrDie;
using dk::testing::ReadTree;
using dk::testing::SplitMix64;
using dk::testing::SubTree;
using dk::testing::TempDir;
using dk::testing::TextBytes;
using dk::testing::Tree;
using dk::testing::WriteFile;
using std::chrono::milliseconds;

constexpr char kIdentity[] = "ns/app/2";

Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

class BucketReaderTest : public ::testing::Test {
 protected:
  BucketReaderTest() : layout_("r") {
    StoreOptions so = testing::TestStoreOptions();
    so.clock = [this] { return store_time_; };
    store_ = OpenStoreOrDie(dir_.Sub("store"), so);
  }

  // Captures a tree of a few files (set `v`) and replicates it; returns the set.
  uint64_t CaptureAndReplicate(int v) {
    SplitMix64 rng(7 + v);
    const std::string data = dir_.Sub("data");
    WriteFile(data + "/a.txt", "file a, version " + std::to_string(v) + "\n");
    WriteFile(data + "/big/blob.bin", TextBytes(rng, 30'000));
    testing::WriteIfChanged(data + "/c.txt", "file c\n");
    store_time_ += testing::kHourNs;
    auto r = CaptureOrDie(*store_, data);
    trees_[r.set] = ReadTree(data);
    times_[r.set] = store_time_;
    ReplicatorOptions o;
    o.identity = kIdentity;
    o.prefix = "r";
    auto rep = Replicator::Create(store_.get(), &bucket_, o);
    EXPECT_TRUE(rep.ok()) << rep.status();
    (*rep)->Notify(r.set);
    (*rep)->Start();
    EXPECT_TRUE((*rep)->WaitIdle(milliseconds(20'000)).ok());
    return r.set;
  }

  std::string ChunkKeyOf(uint64_t set, const std::string& path, size_t i = 0) {
    auto m = ReadManifest(bucket_, layout_, kIdentity, set);
    EXPECT_TRUE(m.ok());
    for (const auto& e : m->entries) {
      if (e.path == path) return layout_.ObjectKey(e.chunks.at(i));
    }
    ADD_FAILURE() << "no " << path;
    return "";
  }

  int64_t store_time_ = int64_t{1'700'000'000} * 1'000'000'000;
  TempDir dir_{"dk-reader"};
  MemoryBucket bucket_;
  BucketLayout layout_;
  std::unique_ptr<Store> store_;
  std::map<uint64_t, Tree> trees_;
  std::map<uint64_t, int64_t> times_;
};

TEST_F(BucketReaderTest, RestoresThroughThePrefetchingSource) {
  const uint64_t s = CaptureAndReplicate(1);
  TempDir out("dk-reader-out");
  auto r = testing::RestoreOrFail(bucket_, layout_, kIdentity, out.Sub("t"));
  EXPECT_EQ(r.set, s);
  EXPECT_TRUE(r.restore.failures.empty());
  EXPECT_EQ(DiffTrees(trees_[s], ReadTree(out.Sub("t")), true), "");
  EXPECT_GT(r.chunks.chunks, 5u);
  EXPECT_EQ(r.chunks.prefetched, r.chunks.chunks);
  EXPECT_GT(r.chunks.bytes_downloaded, 0u);
}

TEST_F(BucketReaderTest, RestoresASubsetOfPaths) {
  const uint64_t s = CaptureAndReplicate(1);
  TempDir out("dk-reader-out");
  RestoreRequest req;
  req.paths = {"big"};
  auto r = RestoreFromBucket(bucket_, layout_, kIdentity, out.Sub("t"), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(DiffTrees(SubTree(trees_[s], {"big"}), ReadTree(out.Sub("t")), true), "");
}

TEST_F(BucketReaderTest, CorruptOrMissingChunkFailsOnlyItsFileNamingTheObject) {
  const uint64_t s = CaptureAndReplicate(1);
  const std::string key = ChunkKeyOf(s, "big/blob.bin", 1);
  struct Damage {
    const char* name;
    std::function<void()> apply;
    StatusCode code;
  };
  const Bytes original = *bucket_.Peek(key);
  const std::vector<Damage> damages = {
      {"garbage", [&] { bucket_.PokeForTest(key, Bytes(original.size(), 0x42)); },
       StatusCode::kCorruption},
      {"truncated",
       [&] { bucket_.PokeForTest(key, Bytes(original.begin(), original.begin() + 10)); },
       StatusCode::kCorruption},
      {"other content",
       [&] { bucket_.PokeForTest(key, *EncodeChunkObject(AsBytes("not this chunk"), 3)); },
       StatusCode::kCorruption},
      {"missing", [&] { ASSERT_TRUE(bucket_.Delete(key).ok()); }, StatusCode::kNotFound},
  };
  for (const auto& d : damages) {
    SCOPED_TRACE(d.name);
    d.apply();
    TempDir out("dk-reader-out");
    auto r = RestoreFromBucket(bucket_, layout_, kIdentity, out.Sub("t"), RestoreRequest{});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->restore.failures.size(), 1u);
    const RestoreFailure& f = r->restore.failures[0];
    EXPECT_EQ(f.path, "big/blob.bin");
    EXPECT_NE(f.error.find(key), std::string::npos) << f.error;
    EXPECT_NE(f.error.find(StatusCodeName(d.code)), std::string::npos) << f.error;
    // Every other file is restored byte-exact; the damaged one is not written.
    Tree expected = trees_[s];
    expected.erase("big/blob.bin");
    EXPECT_EQ(DiffTrees(expected, ReadTree(out.Sub("t")), true), "");
    bucket_.PokeForTest(key, original);
  }
}

TEST_F(BucketReaderTest, CorruptManifestIsCorruptionNamingTheKey) {
  const uint64_t s = CaptureAndReplicate(1);
  const std::string key = layout_.ManifestKey(kIdentity, s);
  const Bytes original = *bucket_.Peek(key);
  // Through the head every bit flip is caught (the head records the object's SHA-256).
  for (size_t i = 0; i < original.size(); i += std::max<size_t>(1, original.size() / 97)) {
    Bytes m = original;
    m[i] ^= 0x04;
    bucket_.PokeForTest(key, m);
    auto r = ReadHeadManifest(bucket_, layout_, kIdentity);
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption) << "flip at " << i;
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status();
  }
  TempDir out("dk-reader-out");
  auto rr = RestoreFromBucket(bucket_, layout_, kIdentity, out.Sub("t"), RestoreRequest{});
  EXPECT_EQ(rr.status().code(), StatusCode::kCorruption);
  // By set number, DecodeManifest's checks apply: truncation, bad magic, a changed path.
  for (const Bytes& bad : {Bytes(original.begin(), original.begin() + original.size() / 3),
                           Bytes(original.begin() + 1, original.end()), Bytes()}) {
    bucket_.PokeForTest(key, bad);
    auto r = ReadManifest(bucket_, layout_, kIdentity, s);
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status();
  }
  std::string renamed(AsChars(original));
  const size_t at = renamed.find("a.txt");
  ASSERT_NE(at, std::string::npos);
  renamed[at] = 'b';
  bucket_.PokeForTest(key, ToBytes(renamed));
  EXPECT_EQ(ReadManifest(bucket_, layout_, kIdentity, s).status().code(), StatusCode::kCorruption);
}

TEST_F(BucketReaderTest, HeadMustMatchItsManifest) {
  const uint64_t s1 = CaptureAndReplicate(1);
  const uint64_t s2 = CaptureAndReplicate(2);
  auto h = ReadHead(bucket_, layout_, kIdentity);
  ASSERT_TRUE(h.ok());
  Head bad = *h;
  bad.root = HashBytes(AsBytes("x"));
  bucket_.PokeForTest(layout_.HeadKey(kIdentity), ToBytes(EncodeHead(bad)));
  EXPECT_EQ(ReadHeadManifest(bucket_, layout_, kIdentity).status().code(), StatusCode::kCorruption);
  bad = *h;
  bad.manifest = BucketLayout::ManifestRelKey(kIdentity, s1);  // points elsewhere
  bucket_.PokeForTest(layout_.HeadKey(kIdentity), ToBytes(EncodeHead(bad)));
  auto r = ReadHeadManifest(bucket_, layout_, kIdentity);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(layout_.HeadKey(kIdentity)), std::string::npos);
  bucket_.PokeForTest(layout_.HeadKey(kIdentity), ToBytes("{garbage"));
  EXPECT_EQ(ReadHead(bucket_, layout_, kIdentity).status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(ReadManifest(bucket_, layout_, kIdentity, s2).ok());
  EXPECT_EQ(ReadHead(bucket_, layout_, "ns/none/0").status().code(), StatusCode::kNotFound);
}

TEST_F(BucketReaderTest, SelectsBySetAndByTime) {
  const uint64_t s1 = CaptureAndReplicate(1);
  const uint64_t s2 = CaptureAndReplicate(2);
  const uint64_t s3 = CaptureAndReplicate(3);
  auto ids = ListIdentities(bucket_, layout_);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, std::vector<std::string>{kIdentity});
  EXPECT_EQ(SelectManifest(bucket_, layout_, kIdentity, s2, std::nullopt)->set, s2);
  EXPECT_EQ(SelectManifest(bucket_, layout_, kIdentity, std::nullopt, std::nullopt)->set, s3);
  EXPECT_EQ(SelectManifest(bucket_, layout_, kIdentity, std::nullopt, times_[s2])->set, s2);
  EXPECT_EQ(SelectManifest(bucket_, layout_, kIdentity, std::nullopt, times_[s2] + 1)->set, s2);
  EXPECT_EQ(SelectManifest(bucket_, layout_, kIdentity, std::nullopt, times_[s3] + 9)->set, s3);
  EXPECT_EQ(SelectManifest(bucket_, layout_, kIdentity, std::nullopt, times_[s1])->set, s1);
  EXPECT_EQ(
      SelectManifest(bucket_, layout_, kIdentity, std::nullopt, times_[s1] - 1).status().code(),
      StatusCode::kNotFound);
  EXPECT_EQ(SelectManifest(bucket_, layout_, kIdentity, 99, std::nullopt).status().code(),
            StatusCode::kNotFound);
  TempDir out("dk-reader-out");
  RestoreRequest req;
  req.time_ns = times_[s2] + 5;
  auto r = RestoreFromBucket(bucket_, layout_, kIdentity, out.Sub("t"), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->set, s2);
  EXPECT_EQ(DiffTrees(trees_[s2], ReadTree(out.Sub("t")), true), "");
}

class ChunkSourceTest : public ::testing::Test {
 protected:
  ChunkSourceTest() : layout_("c"), faulty_(&bucket_) {
    for (int i = 0; i < 12; ++i) {
      const std::string content = "chunk number " + std::to_string(i);
      const ObjectId id = HashBytes(AsBytes(content));
      ids_.push_back(id);
      contents_.push_back(content);
      EXPECT_TRUE(bucket_.Put(layout_.ObjectKey(id), *EncodeChunkObject(AsBytes(content), 3)).ok());
    }
  }
  std::string Get(BucketChunkSource& src, int i) {
    auto r = src.Fetch(ids_[static_cast<size_t>(i)]);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? std::string(AsChars(*r)) : "";
  }

  MemoryBucket bucket_;
  BucketLayout layout_;
  FaultBucket faulty_;
  std::vector<ObjectId> ids_;
  std::vector<std::string> contents_;
};

TEST_F(ChunkSourceTest, FollowsSkipsAndStraysFromThePrefetchOrder) {
  BucketChunkSource src(&bucket_, layout_, {3, 4});
  src.Prefetch({ids_[0], ids_[1], ids_[2], ids_[3], ids_[1], ids_[4], ids_[5], ids_[6]});
  EXPECT_EQ(Get(src, 0), contents_[0]);
  EXPECT_EQ(Get(src, 1), contents_[1]);
  EXPECT_EQ(Get(src, 3), contents_[3]);  // skipped 2 (its file failed)
  EXPECT_EQ(Get(src, 1), contents_[1]);  // a repeat in the order
  EXPECT_EQ(Get(src, 9), contents_[9]);  // not in the order: fetched directly
  EXPECT_EQ(Get(src, 4), contents_[4]);
  EXPECT_EQ(Get(src, 6), contents_[6]);
  EXPECT_EQ(Get(src, 5), contents_[5]);  // behind the window now: direct
  const ChunkSourceStats st = src.stats();
  EXPECT_EQ(st.chunks, 8u);
  EXPECT_EQ(st.prefetched, 6u);
}

TEST_F(ChunkSourceTest, ReadaheadBoundsWhatIsFetchedAhead) {
  std::atomic<int> gets{0};
  faulty_.SetRule([&](std::string_view op, std::string_view) {
    if (op == "GET") ++gets;
    return Status::Ok();
  });
  BucketChunkSource src(&faulty_, layout_, {4, 3});
  src.Prefetch(ids_);
  for (int i = 0; i < 2000 && gets < 3; ++i) std::this_thread::sleep_for(milliseconds(1));
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(gets.load(), 3) << "readahead 3: no more than 3 chunks ahead of the restore";
  EXPECT_EQ(Get(src, 0), contents_[0]);
  for (int i = 0; i < 2000 && gets < 4; ++i) std::this_thread::sleep_for(milliseconds(1));
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(gets.load(), 4);
  for (int i = 1; i < 12; ++i) EXPECT_EQ(Get(src, i), contents_[static_cast<size_t>(i)]);
  EXPECT_EQ(gets.load(), 12);
}

TEST_F(ChunkSourceTest, ErrorsNameTheKey) {
  BucketChunkSource src(&bucket_, layout_);
  const ObjectId absent = HashBytes(AsBytes("absent"));
  auto r = src.Fetch(absent);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(layout_.ObjectKey(absent)), std::string::npos);
  bucket_.PokeForTest(layout_.ObjectKey(ids_[2]), Bytes{1, 2, 3});
  r = src.Fetch(ids_[2]);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(layout_.ObjectKey(ids_[2])), std::string::npos);
}

}  // namespace
}  // namespace dk::replica
