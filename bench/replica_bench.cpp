// Replication benchmark against a real S3-compatible server (versitygw on loopback; see
// bench/replica_bench.sh, which starts one). Never run as a test.
//
//  1. Throughput: a mixed tree (large text and random files, many small files) is captured,
//     replicated to an empty prefix and restored from the bucket into an empty directory, with
//     one and with several upload / prefetch threads. MB/s are logical (uncompressed) bytes.
//  2. Bytes uploaded per version for the four workloads of bench/storage_compare.py
//     (a checkpoint, b page file, c small files, d insertions), generated here with the same
//     shapes from a fixed seed, scaled by --scale.
//
// Usage: replica_bench --env DIR/env [--scale 0.25] [--versions 6] [--workloads abcd]
//                      [--throughput-mib 64]
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "libreplica/bucket_reader.h"
#include "libreplica/replicator.h"
#include "libreplica/s3_bucket.h"
#include "libstate/manifest.h"
#include "libstate/store.h"

namespace fs = std::filesystem;
using namespace dk;
using namespace dk::replica;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string TempDir(const std::string& tag) {
  const char* t = std::getenv("TMPDIR");
  std::string tmpl = std::string(t ? t : "/tmp") + "/dk-replica-bench-" + tag + "-XXXXXX";
  char* p = mkdtemp(tmpl.data());
  if (!p) std::abort();
  return p;
}

void WriteFile(const fs::path& p, const Bytes& b) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

Bytes RandomBytes(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&b[i], &v, 8);
  }
  for (; i < n; ++i) b[i] = static_cast<uint8_t>(rng());
  return b;
}

// Lines of words with numbers (storage_compare.py's text()).
Bytes Text(std::mt19937_64& rng, size_t n) {
  static const char* kWords[] = {"state",  "pod",     "volume", "capture", "restore", "chunk",
                                 "delta",  "merkle",  "root",   "node",    "agent",   "kube",
                                 "config", "replica", "leader", "lease",   "watch",   "informer",
                                 "queue",  "store",   "version"};
  Bytes b;
  b.reserve(n + 128);
  while (b.size() < n) {
    for (int k = 0; k < 8; ++k) {
      const char* w = kWords[rng() % 21];
      b.insert(b.end(), w, w + std::strlen(w));
      b.push_back(' ');
    }
    const std::string num = std::to_string(rng() % 1000000) + "\n";
    b.insert(b.end(), num.begin(), num.end());
  }
  b.resize(n);
  return b;
}

std::map<std::string, std::string> ReadEnv(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    // server.sh writes KEY="VALUE" (so that the file can be sourced); the quotes go.
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    env[line.substr(0, eq)] = value;
  }
  return env;
}

struct Bench {
  std::map<std::string, std::string> env;
  std::unique_ptr<S3Bucket> bucket;
  int run = 0;

  std::string NewPrefix(const std::string& tag) {
    return "bench-" + std::to_string(::getpid()) + "-" + std::to_string(++run) + "-" + tag;
  }
};

std::unique_ptr<Store> OpenStore(const std::string& dir) {
  StoreOptions o;
  o.sync = false;
  auto s = Store::Open(dir, o, OpenMode::kCreate);
  if (!s.ok()) Die("open store", s.status());
  return std::move(s).value();
}

std::unique_ptr<Replicator> NewReplicator(Bench& b, Store* store, const std::string& prefix,
                                          int parallelism, bool head_before_put = true) {
  ReplicatorOptions o;
  o.identity = "bench/sts/0";
  o.prefix = prefix;
  o.parallelism = parallelism;
  o.head_before_put = head_before_put;
  auto rep = Replicator::Create(store, b.bucket.get(), o);
  if (!rep.ok()) Die("replicator", rep.status());
  return std::move(rep).value();
}

void WaitIdle(Replicator& rep) {
  Status idle = rep.WaitIdle(std::chrono::minutes(10));
  if (!idle.ok()) Die("replicate", idle);
}

// `small`: files of 1-7 KiB; otherwise 8 large files, half text, half random.
void Throughput(Bench& b, double mib, bool small) {
  const std::string dir = TempDir("tp");
  std::mt19937_64 rng(1);
  if (!small) {
    const size_t large = static_cast<size_t>(mib * kMiB / 8);
    for (int i = 0; i < 8; ++i) {
      WriteFile(dir + "/data/large/" + std::to_string(i) + ".bin",
                i % 2 ? RandomBytes(rng, large) : Text(rng, large));
    }
  } else {
    const int small_files = static_cast<int>(mib * kMiB / 4096);
    for (int i = 0; i < small_files; ++i) {
      WriteFile(dir + "/data/small/d" + std::to_string(i % 50) + "/f" + std::to_string(i),
                Text(rng, 1024 + rng() % 6144));
    }
  }
  auto store = OpenStore(dir + "/store");
  auto cap = store->Capture(dir + "/data", {});
  if (!cap.ok()) Die("capture", cap.status());
  auto m = store->Manifest(cap->set);
  if (!m.ok()) Die("manifest", m.status());
  const double logical = static_cast<double>(m->LogicalBytes());
  const size_t files = m->entries.size();
  const size_t chunks = m->Chunks().size();

  std::printf("\n== Throughput on loopback, %s: %.0f MiB logical, %zu entries, %zu chunks ==\n",
              small ? "small files" : "large files", logical / kMiB, files, chunks);
  std::printf("%-38s %9s %10s %12s\n", "operation", "seconds", "MB/s", "sent/recv MB");
  {
    const auto t0 = std::chrono::steady_clock::now();
    RestoreRequest req;
    req.restore_owner = false;
    auto rr = store->Restore(dir + "/restore-local", req);
    if (!rr.ok()) Die("local restore", rr.status());
    const double secs = Seconds(t0);
    std::printf("%-38s %9.2f %10.1f %12s\n", "restore from the local store (baseline)", secs,
                logical / 1e6 / secs, "-");
  }
  for (int par : {1, 4, 8, -4}) {  // -4: 4 threads, no HEAD before PUT
    const bool head = par > 0;
    par = std::abs(par);
    const std::string prefix = b.NewPrefix("tp");
    auto rep = NewReplicator(b, store.get(), prefix, par, head);
    const auto t0 = std::chrono::steady_clock::now();
    rep->Start();  // reads the (absent) head and queues the store's latest set
    WaitIdle(*rep);
    const double secs = Seconds(t0);
    const ReplicationStatus st = rep->status();
    if (st.last_set != cap->set) {
      std::fprintf(stderr, "replicated set %llu, expected %llu\n",
                   static_cast<unsigned long long>(st.last_set),
                   static_cast<unsigned long long>(cap->set));
      std::exit(1);
    }
    std::printf(
        "%-38s %9.2f %10.1f %12.1f\n",
        ("replicate, " + std::to_string(par) + " upload threads" + (head ? "" : ", no HEAD"))
            .c_str(),
        secs, logical / 1e6 / secs, static_cast<double>(st.bytes_uploaded) / 1e6);
    if (par != 4 || !head) continue;
    for (int pf : {1, 8}) {
      const std::string out = dir + "/restore-" + std::to_string(pf);
      BucketRestoreOptions ro;
      ro.chunks.parallelism = pf;
      ro.chunks.readahead = pf == 1 ? 1 : 64;
      RestoreRequest req;
      req.restore_owner = false;
      const auto t1 = std::chrono::steady_clock::now();
      auto rr = RestoreFromBucket(*b.bucket, BucketLayout(prefix), "bench/sts/0", out, req, ro);
      const double rsecs = Seconds(t1);
      if (!rr.ok()) Die("restore", rr.status());
      if (!rr->restore.failures.empty()) {
        std::fprintf(stderr, "restore failure: %s\n", rr->restore.failures[0].error.c_str());
        std::exit(1);
      }
      std::printf("%-38s %9.2f %10.1f %12.1f\n",
                  ("restore from bucket, " + std::to_string(pf) + " fetch threads").c_str(), rsecs,
                  logical / 1e6 / rsecs, static_cast<double>(rr->chunks.bytes_downloaded) / 1e6);
    }
  }
  fs::remove_all(dir);
}

// ---- the four workloads of bench/storage_compare.py, scaled ----

using Generator = void (*)(std::mt19937_64&, int versions, double scale, const std::string& out);

void GenCheckpoint(std::mt19937_64& rng, int versions, double scale, const std::string& out) {
  const size_t n = static_cast<size_t>(16 * kMiB / 4 * 4 * scale);  // 64 MiB at scale 1
  std::vector<float> vals(n);
  std::normal_distribution<float> init(0.0f, 0.05f), step(0.0f, 0.001f);
  for (auto& v : vals) v = init(rng);
  for (int v = 0; v < versions; ++v) {
    if (v) {
      for (size_t k = 0; k < n / 10; ++k) vals[rng() % n] += step(rng);
    }
    Bytes b(n * 4);
    std::memcpy(b.data(), vals.data(), b.size());
    WriteFile(out + "/v" + std::to_string(v + 1) + "/model.ckpt", b);
  }
}

void GenPagefile(std::mt19937_64& rng, int versions, double scale, const std::string& out) {
  const size_t page = 4096;
  Bytes data = RandomBytes(rng, static_cast<size_t>(32 * kMiB * scale) / page * page);
  for (size_t p = 0; p < data.size(); p += page) std::memset(&data[p + page / 2], 0, page / 2);
  for (int v = 0; v < versions; ++v) {
    if (v) {
      const size_t pages = data.size() / page;
      for (size_t k = 0; k < pages * 2 / 100; ++k) {
        const size_t p = rng() % pages;
        Bytes r = RandomBytes(rng, page / 2);
        std::memcpy(&data[p * page], r.data(), r.size());
      }
      Bytes tail = RandomBytes(rng, static_cast<size_t>(256 * 1024 * scale) / page * page);
      for (size_t p = 0; p < tail.size(); p += page) std::memset(&tail[p + page / 2], 0, page / 2);
      data.insert(data.end(), tail.begin(), tail.end());
    }
    WriteFile(out + "/v" + std::to_string(v + 1) + "/pages.db", data);
  }
}

void GenSmallFiles(std::mt19937_64& rng, int versions, double scale, const std::string& out) {
  std::map<std::string, Bytes> files;
  const int count = static_cast<int>(2000 * scale);
  auto name = [](int i) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "dir%02d/file%05d.txt", i % 40, i);
    return std::string(buf);
  };
  for (int i = 0; i < count; ++i) files[name(i)] = Text(rng, 200 + rng() % 7800);
  int next = count;
  for (int v = 0; v < versions; ++v) {
    if (v) {
      std::vector<std::string> names;
      for (const auto& [k, _] : files) names.push_back(k);
      for (size_t k = 0; k < names.size() * 5 / 100; ++k) {
        Bytes& b = files[names[rng() % names.size()]];
        const size_t pos = rng() % b.size();
        Bytes t = Text(rng, 60);
        b.erase(b.begin() + static_cast<long>(pos),
                b.begin() + static_cast<long>(std::min(b.size(), pos + 40)));
        b.insert(b.begin() + static_cast<long>(pos), t.begin(), t.end());
      }
      for (int k = 0; k < 10 && !files.empty(); ++k) {
        auto it = files.begin();
        std::advance(it, static_cast<long>(rng() % files.size()));
        files.erase(it);
      }
      for (int k = 0; k < 20; ++k, ++next) files[name(next)] = Text(rng, 200 + rng() % 7800);
    }
    for (const auto& [k, content] : files) {
      WriteFile(out + "/v" + std::to_string(v + 1) + "/" + k, content);
    }
  }
}

void GenInserts(std::mt19937_64& rng, int versions, double scale, const std::string& out) {
  Bytes data = Text(rng, static_cast<size_t>(8 * kMiB * scale));
  for (int v = 0; v < versions; ++v) {
    if (v) {
      for (int k = 0; k < 50; ++k) {
        const size_t pos = rng() % data.size();
        if (rng() % 2) {
          Bytes t = Text(rng, 1 + rng() % 199);
          data.insert(data.begin() + static_cast<long>(pos), t.begin(), t.end());
        } else {
          data.erase(
              data.begin() + static_cast<long>(pos),
              data.begin() + static_cast<long>(std::min(data.size(), pos + 1 + rng() % 199)));
        }
      }
    }
    WriteFile(out + "/v" + std::to_string(v + 1) + "/document.txt", data);
  }
}

void Workloads(Bench& b, const std::string& which, int versions, double scale) {
  struct W {
    char key;
    const char* name;
    Generator gen;
  };
  const std::vector<W> all = {{'a', "a) checkpoint, 10% values changed", GenCheckpoint},
                              {'b', "b) page file, 2% pages + append", GenPagefile},
                              {'c', "c) small files, 5% edited +20 -10", GenSmallFiles},
                              {'d', "d) inserts/deletes at 50 places", GenInserts}};
  std::printf(
      "\n== Bytes uploaded per version (scale %.2f of storage_compare.py, %d versions) ==\n", scale,
      versions);
  std::printf("%-36s %10s %10s %12s %12s %9s %9s\n", "workload", "logical", "v1 sent", "later sent",
              "later objs", "ratio", "MB/s");
  std::printf("%-36s %10s %10s %12s %12s %9s %9s\n", "", "MiB/ver", "MiB", "MiB/ver", "per ver",
              "later/lg", "repl.");
  for (const auto& w : all) {
    if (which.find(w.key) == std::string::npos) continue;
    const std::string dir = TempDir(std::string(1, w.key));
    std::mt19937_64 rng(20240501);
    w.gen(rng, versions, scale, dir + "/versions");
    auto store = OpenStore(dir + "/store");
    auto rep = NewReplicator(b, store.get(), b.NewPrefix(std::string(1, w.key)), 4);
    rep->Start();
    WaitIdle(*rep);
    std::vector<uint64_t> sets, bytes, objects;
    double logical = 0, seconds = 0;
    for (int v = 1; v <= versions; ++v) {
      // Each version's directory is captured as the same tree (paths are relative to the root).
      auto c = store->Capture(dir + "/versions/v" + std::to_string(v), {});
      if (!c.ok()) Die("capture", c.status());
      if (c->set == 0) continue;
      sets.push_back(c->set);
      logical += static_cast<double>(store->Manifest(c->set)->LogicalBytes());
      const ReplicationStatus before = rep->status();
      const auto t0 = std::chrono::steady_clock::now();
      rep->Notify(c->set);
      WaitIdle(*rep);
      seconds += Seconds(t0);
      const ReplicationStatus after = rep->status();
      bytes.push_back(after.bytes_uploaded - before.bytes_uploaded);
      objects.push_back(after.objects_uploaded - before.objects_uploaded);
    }
    double later = 0, later_objs = 0;
    for (size_t i = 1; i < bytes.size(); ++i) {
      later += static_cast<double>(bytes[i]);
      later_objs += static_cast<double>(objects[i]);
    }
    const double n_later = static_cast<double>(std::max<size_t>(1, bytes.size() - 1));
    const double per_version = logical / static_cast<double>(sets.size());
    std::printf("%-36s %10.2f %10.2f %12.3f %12.1f %8.1f%% %9.1f\n", w.name, per_version / kMiB,
                static_cast<double>(bytes[0]) / kMiB, later / n_later / kMiB, later_objs / n_later,
                100.0 * later / n_later / per_version, logical / 1e6 / seconds);
    fs::remove_all(dir);
  }
  std::printf(
      "\n'later sent' = bytes uploaded (chunk objects + manifest + head) per version after the "
      "first;\n'ratio' = that / the logical size of a version; 'MB/s repl.' = logical bytes of "
      "all versions / replication time.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string env_path = std::getenv("DK_S3_ENV") ? std::getenv("DK_S3_ENV") : "";
  std::string workloads = "abcd";
  int versions = 6;
  double scale = 0.25, tp_mib = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--env")
      env_path = v;
    else if (a == "--workloads")
      workloads = v;
    else if (a == "--versions")
      versions = std::max(2, std::atoi(v.c_str()));
    else if (a == "--scale")
      scale = std::atof(v.c_str());
    else if (a == "--throughput-mib")
      tp_mib = std::atof(v.c_str());
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (env_path.empty()) {
    std::fprintf(stderr, "usage: replica_bench --env DIR/env (from e2e/s3/server.sh start DIR)\n");
    return 2;
  }
  Bench b;
  b.env = ReadEnv(env_path);
  s3::S3Options o;
  o.endpoint = b.env["S3_ENDPOINT"];
  o.region = b.env["S3_REGION"];
  o.bucket = b.env["S3_BUCKET"];
  o.credentials = {b.env["S3_ACCESS_KEY"], b.env["S3_SECRET_KEY"], ""};
  auto bucket = S3Bucket::Create(o);
  if (!bucket.ok()) Die("bucket", bucket.status());
  b.bucket = std::move(bucket).value();
  std::printf("server: %s at %s\n", b.env["S3_SERVER"].c_str(), o.endpoint.c_str());
  if (tp_mib > 0) {
    Throughput(b, tp_mib, /*small=*/false);
    Throughput(b, tp_mib / 4, /*small=*/true);
  }
  if (!workloads.empty() && workloads != "none") Workloads(b, workloads, versions, scale);
  return 0;
}
