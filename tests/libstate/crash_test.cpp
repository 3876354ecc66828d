// Crash consistency with real kills: a child process captures, in a loop, a directory it
// mutates; the parent SIGKILLs it at random moments, then reopens the store and checks that
// it verifies clean and that every version it lists is exactly a state some file really had.
//
// Every file's content is derived from (file index, generation) and starts with the header
// "file=<i> gen=<g>\n", so any stored version can be recognised and regenerated. The child
// replaces files atomically (write beside, rename in), so the tree never holds a torn file
// and every captured version must match its header exactly.
//
// Label: integration (real processes, real time: the kill moments are random).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include "libstate/store.h"
#include "libstate/store_test_util.h"

namespace dk {
namespace {

using namespace dk::testing;  // NOLINT: test helpers

constexpr int kFiles = 8;
constexpr int kRuns = 50;  // kills (at least 50)

std::string FilePath(int i) {
  return i < 5 ? "f" + std::to_string(i) : "sub/f" + std::to_string(i);
}

// The content of file `i` at generation `g`: header, then a per-file body (so generations of
// one file share most bytes, as real files do) with edits and a length chosen by (i, g).
Bytes Content(int i, uint64_t g) {
  char header[64];
  std::snprintf(header, sizeof header, "file=%d gen=%" PRIu64 "\n", i, g);
  SplitMix64 body_rng(0xb0d1 + static_cast<uint64_t>(i));
  const size_t base_len = i == 0 ? 120000 : 2000 + 3000 * static_cast<size_t>(i);
  Bytes body = body_rng.RandomBytes(base_len);
  SplitMix64 rng(static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL ^ g);
  for (uint64_t k = 0, n = 1 + rng.Below(20); k < n; ++k)
    body[rng.Below(body.size())] = static_cast<uint8_t>(rng.Next());
  body.resize(body.size() - rng.Below(body.size() / 4));
  Bytes tail = rng.RandomBytes(rng.Below(500));
  Bytes out(header, header + std::strlen(header));
  out.insert(out.end(), body.begin(), body.end());
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

// Parses the header; false when there is none.
bool ParseHeader(const std::string& content, int* i, uint64_t* g) {
  return std::sscanf(content.c_str(), "file=%d gen=%" SCNu64 "\n", i, g) == 2;
}

StoreOptions CrashOptions() {
  StoreOptions o;
  o.chunker = ChunkerParams{1024, 4096, 16384};  // several chunks per file
  o.snapshot_every = 5;
  o.max_chain = 4;
  o.delta = DeltaChoice::kZstd;  // the fast engine: many captures between kills
  o.sync = true;                 // acknowledged captures are durable
  o.logger = NullLogger();
  return o;
}

// Child: no GoogleTest, no exceptions; exits only by being killed or on error.
// Writes a byte to `ack_fd` (non-blocking) after every committed capture.
[[noreturn]] void ChildLoop(const std::string& store_dir, const std::string& src,
                            const std::string& staging, uint64_t seed, int run, int ack_fd) {
  auto s = Store::Open(store_dir, CrashOptions(), OpenMode::kReadWrite);
  if (!s.ok()) {
    std::fprintf(stderr, "child: open: %s\n", s.status().ToString().c_str());
    _exit(2);
  }
  SplitMix64 rng(seed);
  for (uint64_t step = 0;; ++step) {
    for (uint64_t k = 0, n = 1 + rng.Below(3); k < n; ++k) {
      const int i = static_cast<int>(rng.Below(kFiles));
      const std::string dst = src + "/" + FilePath(i);
      if (rng.OneIn(10)) {
        unlink(dst.c_str());
        continue;
      }
      const uint64_t g = static_cast<uint64_t>(run) * 1'000'000 + step * 4 + k;
      Bytes b = Content(i, g);
      const std::string tmp = staging + "/next";
      int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || write(fd, b.data(), b.size()) != static_cast<ssize_t>(b.size())) _exit(4);
      close(fd);
      if (i >= 5) mkdir((src + "/sub").c_str(), 0755);
      if (rename(tmp.c_str(), dst.c_str()) != 0) _exit(5);
    }
    auto c = (*s)->Capture(src, {});
    if (!c.ok()) {
      std::fprintf(stderr, "child: capture: %s\n", c.status().ToString().c_str());
      _exit(3);
    }
    const char ack = 'c';
    if (write(ack_fd, &ack, 1) < 0) {  // a full pipe only means the parent is not waiting
    }
  }
}

// Checks every version not checked before (`checked` counts them per path); adds the number
// of file versions checked to *n.
void CheckStore(const std::string& store_dir, const std::string& scratch, bool restore,
                std::map<std::string, size_t>* checked, size_t* n) {
  auto s = OpenStoreOrDie(store_dir, CrashOptions(), OpenMode::kReadWrite);
  EXPECT_EQ(VerifyProblems(*s), "");
  for (int i = 0; i < kFiles; ++i) {
    const std::string path = FilePath(i);
    auto log = s->Log(path);
    if (!log.ok()) {
      EXPECT_EQ(log.status().code(), StatusCode::kNotFound) << log.status();
      continue;
    }
    size_t& done = (*checked)[path];
    EXPECT_GE(log->size(), done) << path << " lost versions";
    for (size_t k = done; k < log->size(); ++k) {
      const VersionInfo& v = (*log)[k];
      if (v.kind == VersionKind::kDeleted) continue;
      std::string content = ReadVersionOrDie(*s, path, v.seq);
      int fi = -1;
      uint64_t g = 0;
      ASSERT_TRUE(ParseHeader(content, &fi, &g)) << path << " v" << v.seq << " has no header";
      EXPECT_EQ(fi, i) << path << " v" << v.seq;
      EXPECT_TRUE(ToString(Content(i, g)) == content)
          << path << " v" << v.seq << " (gen " << g << ") differs from its regenerated content";
      ++*n;
    }
    done = log->size();
  }
  // The latest state restores, every file recognisable (restores fsync every file: not after
  // every kill, to keep the test's time in the kills).
  auto sets = s->Sets();
  EXPECT_TRUE(sets.ok());
  if (restore && sets.ok() && !sets->empty()) {
    RestoreOrDie(*s, scratch, {});
    for (const auto& [p, e] : ReadTree(scratch)) {
      if (e.type != EntryType::kFile) continue;
      int fi = -1;
      uint64_t g = 0;
      ASSERT_TRUE(ParseHeader(e.content, &fi, &g)) << "restored " << p;
      EXPECT_EQ(FilePath(fi), p);
      EXPECT_TRUE(ToString(Content(fi, g)) == e.content) << "restored " << p;
    }
    RemoveTree(scratch);
  }
}

TEST(CrashTest, KilledCapturesLeaveAStoreWhoseEveryVersionIsARealState) {
  const uint64_t seed = TestSeed(0xc4a54);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SplitMix64 rng(seed);
  TempDir tmp("dk-crash");
  const std::string store_dir = tmp.Sub("store"), src = tmp.Sub("src"),
                    staging = tmp.Sub("staging"), scratch = tmp.Sub("scratch");
  MakeDirs(src);
  MakeDirs(staging);
  { OpenStoreOrDie(store_dir, CrashOptions(), OpenMode::kCreate); }  // no store opened below

  std::map<std::string, size_t> checked;
  size_t versions = 0;
  int killed_running = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int run = 0; run < kRuns; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    const uint64_t child_seed = rng.Next();
    const auto delay = std::chrono::microseconds(2000 + rng.Below(98000));  // 2..100 ms
    // Mostly, the random moment is counted from the child's first committed capture, so
    // every run makes progress however slow the machine; sometimes from the start, so that
    // kills also land in opening the store and in the first capture.
    const bool after_first_capture = !rng.OneIn(4);
    int ack[2];
    ASSERT_EQ(pipe2(ack, O_CLOEXEC), 0);
    ASSERT_EQ(fcntl(ack[1], F_SETFL, O_NONBLOCK), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(ack[0]);
      ChildLoop(store_dir, src, staging, child_seed, run, ack[1]);
    }
    close(ack[1]);
    if (after_first_capture) {
      pollfd p{ack[0], POLLIN, 0};
      ASSERT_EQ(poll(&p, 1, 60000), 1) << "the child made no capture in 60 s";
    }
    std::this_thread::sleep_for(delay);
    kill(pid, SIGKILL);
    close(ack[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child failed on its own, exit " << WEXITSTATUS(status);
    ++killed_running;
    CheckStore(store_dir, scratch, run % 4 == 3, &checked, &versions);
    if (::testing::Test::HasFatalFailure()) return;
  }
  const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("crash test: %d kills, %zu file versions checked, %.1f s\n", killed_running, versions,
              secs);
  // The kills must have hit a store that was really being written.
  EXPECT_GE(versions, static_cast<size_t>(kRuns / 2));
  auto s = OpenStoreOrDie(store_dir, CrashOptions(), OpenMode::kReadWrite);
  auto sets = s->Sets();
  ASSERT_TRUE(sets.ok());
  EXPECT_GE(sets->size(), static_cast<size_t>(kRuns / 2));
}

}  // namespace
}  // namespace dk
