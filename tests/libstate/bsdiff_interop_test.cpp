// Interoperability of our BSDIFF40 engine with the stock tools (Debian package bsdiff):
// patches we make are applied by /usr/bin/bspatch, patches /usr/bin/bsdiff makes are applied by
// us, byte-exact both ways. Spawns processes: labelled `integration`.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "libstate/delta.h"
#include "libstate/delta_test_data.h"

extern char** environ;

namespace dk {
namespace {

using testing::DeltaPair;
using testing::DeltaTestSeed;
using testing::SeedTrace;

constexpr const char* kBsdiff = "/usr/bin/bsdiff";
constexpr const char* kBspatch = "/usr/bin/bspatch";

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/dk-bsdiff-interop-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

bool WriteFile(const std::string& path, ByteView data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return out.good();
}

Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs argv[0] with argv (no shell) and returns its exit status, or -1 if it did not exit.
int RunProgram(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class BsdiffInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kBsdiff, X_OK) != 0 || access(kBspatch, X_OK) != 0) {
      GTEST_SKIP() << "stock bsdiff/bspatch not installed (Debian package bsdiff)";
    }
    ASSERT_TRUE(dir_.ok()) << "mkdtemp: " << std::strerror(errno);
  }

  // The standard pairs (1 MiB binary with scattered edits, text edits, insertions and
  // deletions, 1-byte files...). The stock bsdiff cannot read an empty file (it mmaps its
  // inputs), so pairs with an empty side only go through the stock bspatch.
  static std::vector<DeltaPair> Pairs(uint64_t seed, bool with_empty_files) {
    std::vector<DeltaPair> pairs;
    for (DeltaPair& p : testing::StandardDeltaPairs(seed)) {
      if (!with_empty_files && (p.base.empty() || p.target.empty())) continue;
      pairs.push_back(std::move(p));
    }
    return pairs;
  }

  TempDir dir_;
};

TEST_F(BsdiffInteropTest, StockBspatchAppliesOurPatches) {
  const uint64_t seed = DeltaTestSeed();
  SCOPED_TRACE(SeedTrace(seed));
  const std::string old_file = dir_.File("old"), new_file = dir_.File("new"),
                    patch_file = dir_.File("patch");
  for (const DeltaPair& pair : Pairs(seed, /*with_empty_files=*/true)) {
    SCOPED_TRACE(pair.name);
    Result<Bytes> patch = MakeDelta(DeltaEngine::kBsdiff, pair.base, pair.target, {});
    ASSERT_TRUE(patch.ok()) << patch.status();
    ASSERT_TRUE(WriteFile(old_file, pair.base));
    ASSERT_TRUE(WriteFile(patch_file, *patch));
    std::filesystem::remove(new_file);
    ASSERT_EQ(RunProgram({kBspatch, old_file, new_file, patch_file}), 0);
    Bytes out = ReadFile(new_file);
    EXPECT_TRUE(out == pair.target)
        << "bspatch output " << out.size() << " bytes, want " << pair.target.size();
  }
}

TEST_F(BsdiffInteropTest, WeApplyStockBsdiffPatches) {
  const uint64_t seed = DeltaTestSeed();
  SCOPED_TRACE(SeedTrace(seed));
  const std::string old_file = dir_.File("old"), new_file = dir_.File("new"),
                    patch_file = dir_.File("patch");
  int pairs = 0;
  for (const DeltaPair& pair : Pairs(seed, /*with_empty_files=*/false)) {
    SCOPED_TRACE(pair.name);
    ASSERT_TRUE(WriteFile(old_file, pair.base));
    ASSERT_TRUE(WriteFile(new_file, pair.target));
    ASSERT_EQ(RunProgram({kBsdiff, old_file, new_file, patch_file}), 0);
    Bytes patch = ReadFile(patch_file);
    Result<Bytes> out = ApplyDelta(DeltaEngine::kBsdiff, pair.base, patch, pair.target.size());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(*out == pair.target);
    ++pairs;
  }
  EXPECT_GE(pairs, 10);
}

}  // namespace
}  // namespace dk
