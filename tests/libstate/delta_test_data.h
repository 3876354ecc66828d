// Test inputs for the delta engines: seeded, deterministic (base, target) pairs.
//
// std::mt19937_64's output is fixed by the C++ standard, and only its raw output is used (no
// std::*_distribution, whose results differ between standard libraries), so a seed names the
// same bytes everywhere. The seed is DK_TEST_SEED from the environment when set, else a
// fixed default; tests print it with SCOPED_TRACE so a failure can be replayed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "libstate/bytes.h"

namespace dk::testing {

inline uint64_t DeltaTestSeed() {
  if (const char* s = std::getenv("DK_TEST_SEED"); s != nullptr && *s != '\0') {
    return std::strtoull(s, nullptr, 0);
  }
  return 20240611;
}

inline std::string SeedTrace(uint64_t seed) {
  return "seed=" + std::to_string(seed) + " (replay with DK_TEST_SEED=" + std::to_string(seed) +
         ")";
}

// Uniform-enough integer in [0, n) from the raw generator output.
inline size_t Below(std::mt19937_64& rng, size_t n) { return n == 0 ? 0 : rng() % n; }

inline Bytes RandomBytes(std::mt19937_64& rng, size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(rng() >> 56);
  return out;
}

// Overwrites about `fraction` of the bytes at scattered positions with random values.
inline Bytes ScatterEdits(Bytes data, std::mt19937_64& rng, double fraction) {
  size_t edits = static_cast<size_t>(static_cast<double>(data.size()) * fraction);
  for (size_t i = 0; i < edits && !data.empty(); ++i) {
    data[Below(rng, data.size())] = static_cast<uint8_t>(rng() >> 56);
  }
  return data;
}

// Inserts and deletes `count` random runs of 1..max_run bytes.
inline Bytes InsertDelete(Bytes data, std::mt19937_64& rng, int count, size_t max_run) {
  for (int i = 0; i < count; ++i) {
    size_t at = Below(rng, data.size() + 1);
    size_t run = 1 + Below(rng, max_run);
    if (i % 2 == 0) {
      Bytes ins = RandomBytes(rng, run);
      data.insert(data.begin() + static_cast<ptrdiff_t>(at), ins.begin(), ins.end());
    } else {
      size_t end = std::min(data.size(), at + run);
      data.erase(data.begin() + static_cast<ptrdiff_t>(at),
                 data.begin() + static_cast<ptrdiff_t>(end));
    }
  }
  return data;
}

inline std::string RandomLine(std::mt19937_64& rng) {
  static const char* const kWords[] = {
      "state",  "volume", "capture", "restore", "chunk",    "delta",  "merkle", "root",
      "policy", "agent",  "node",    "pod",     "version",  "object", "store",  "snapshot",
      "key",    "value",  "true",    "false",   "replica",  "=",      "#",      "{",
      "}",      "0",      "42",      "1024",    "/var/lib", "data",   "log",    "sync"};
  constexpr size_t kCount = sizeof(kWords) / sizeof(kWords[0]);
  std::string line;
  size_t words = 2 + Below(rng, 12);
  for (size_t i = 0; i < words; ++i) {
    if (i) line += ' ';
    line += kWords[Below(rng, kCount)];
  }
  return line + '\n';
}

// A text file of about `size` bytes made of random lines.
inline std::vector<std::string> RandomTextLines(std::mt19937_64& rng, size_t size) {
  std::vector<std::string> lines;
  size_t total = 0;
  while (total < size) {
    lines.push_back(RandomLine(rng));
    total += lines.back().size();
  }
  return lines;
}

inline Bytes JoinLines(const std::vector<std::string>& lines) {
  Bytes out;
  for (const std::string& l : lines) out.insert(out.end(), l.begin(), l.end());
  return out;
}

// Changes, inserts or deletes about `fraction` of the lines.
inline std::vector<std::string> EditLines(std::vector<std::string> lines, std::mt19937_64& rng,
                                          double fraction) {
  size_t edits = static_cast<size_t>(static_cast<double>(lines.size()) * fraction) + 1;
  for (size_t i = 0; i < edits && !lines.empty(); ++i) {
    size_t at = Below(rng, lines.size());
    switch (rng() % 3) {
      case 0:
        lines[at] = RandomLine(rng);
        break;
      case 1:
        lines.insert(lines.begin() + static_cast<ptrdiff_t>(at), RandomLine(rng));
        break;
      default:
        lines.erase(lines.begin() + static_cast<ptrdiff_t>(at));
        break;
    }
  }
  return lines;
}

#ifdef DK_SOURCE_DIR_DEFAULT
// Reads tests/golden/delta/<name> from $DK_SOURCE_DIR (set by ctest) or the configured source
// tree; empty when missing (the caller's size checks then fail).
inline Bytes ReadDeltaGolden(const std::string& name) {
  const char* dir = std::getenv("DK_SOURCE_DIR");
  std::string path = std::string(dir != nullptr && *dir != '\0' ? dir : DK_SOURCE_DIR_DEFAULT) +
                     "/tests/golden/delta/" + name;
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
#endif

struct DeltaPair {
  std::string name;
  Bytes base;
  Bytes target;
};

// The standard set of pairs every engine must round-trip.
inline std::vector<DeltaPair> StandardDeltaPairs(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<DeltaPair> pairs;
  auto add = [&](std::string name, Bytes base, Bytes target) {
    pairs.push_back({std::move(name), std::move(base), std::move(target)});
  };
  add("empty_to_empty", {}, {});
  add("empty_to_random", {}, RandomBytes(rng, 1000));
  add("random_to_empty", RandomBytes(rng, 1000), {});
  {
    Bytes same = RandomBytes(rng, 64 << 10);
    add("identical_64KiB", same, same);
  }
  add("one_byte_changed", {0x41}, {0x42});
  add("one_byte_same", {0x41}, {0x41});
  add("one_byte_to_two", {0x00}, {0x00, 0xFF});
  {
    Bytes base = RandomBytes(rng, 1 << 20);
    Bytes target = ScatterEdits(base, rng, 0.01);
    add("random_1MiB_1pct_edits", std::move(base), std::move(target));
  }
  {
    Bytes base = RandomBytes(rng, 256 << 10);
    Bytes target = InsertDelete(base, rng, 40, 300);
    add("insert_delete_256KiB", std::move(base), std::move(target));
  }
  {
    std::vector<std::string> lines = RandomTextLines(rng, 200 << 10);
    Bytes base = JoinLines(lines);
    add("text_line_edits_200KiB", std::move(base), JoinLines(EditLines(lines, rng, 0.02)));
  }
  add("unrelated_64KiB", RandomBytes(rng, 64 << 10), RandomBytes(rng, 64 << 10));
  {
    Bytes base(256 << 10, 0);
    Bytes target = ScatterEdits(base, rng, 0.0005);
    add("zeros_with_edits_256KiB", std::move(base), std::move(target));
  }
  {
    Bytes base = RandomBytes(rng, 128 << 10);
    Bytes target(base.begin() + (64 << 10), base.end());
    target.insert(target.end(), base.begin(), base.begin() + (64 << 10));
    add("halves_swapped_128KiB", std::move(base), std::move(target));
  }
  {
    Bytes base = RandomBytes(rng, 32 << 10);
    Bytes target = base;
    Bytes tail = RandomBytes(rng, 10 << 10);
    target.insert(target.end(), tail.begin(), tail.end());
    add("appended_10KiB", base, target);
    add("truncated_10KiB", target, base);
  }
  {
    // Periodic data shifted by a few bytes, with edits: many equally long matches.
    Bytes base(100 << 10);
    for (size_t i = 0; i < base.size(); ++i) base[i] = static_cast<uint8_t>("abcdefg"[i % 7]);
    Bytes target(base.begin() + 3, base.end());
    target = ScatterEdits(std::move(target), rng, 0.001);
    add("periodic_shifted_100KiB", std::move(base), std::move(target));
  }
  return pairs;
}

}  // namespace dk::testing
