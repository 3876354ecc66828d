// The bsdiff delta engine: Colin Percival's algorithm ("Naive differences of executable code",
// 2003), implemented here from its description, writing and reading the BSDIFF40 format.
//
// BSDIFF40 format (all of it; compatible with the stock bsdiff/bspatch tools):
//
//   offset  size  field
//        0     8  magic "BSDIFF40"
//        8     8  C = length of the compressed control block      (offt, see below)
//       16     8  D = length of the compressed diff block         (offt)
//       24     8  N = size of the new (target) file               (offt)
//       32     C  control block: a bzip2 stream (one stream, no trailing bytes)
//     32+C     D  diff block: a bzip2 stream
//   32+C+D   rest extra block: a bzip2 stream, to the end of the patch
//
//   offt: a signed 64-bit integer in sign-magnitude form: bytes 0..7 hold |x| little-endian
//   with the top bit of byte 7 cleared, and that bit set when x < 0.
//
// Uncompressed, the control block is a sequence of triples of offt (24 bytes each):
//   (add, copy, seek): the next `add` bytes of the new file are diff bytes (read from the diff
//   block) plus the base bytes at the old position, byte-wise modulo 256; then `copy` bytes are
//   taken verbatim from the extra block; then the old position moves by add + seek.
// Both positions start at 0; triples are read until the new file has N bytes. Every stream
// must end exactly where the new file does.
//
// Strict reading (ApplyBsdiffPatch), each failure a Corruption naming the field and offset:
// header lengths negative or past the end of the patch; N above max_output (checked before
// allocating N bytes); add or copy negative or past N; an add range outside the base (the
// stock bspatch would read zeros there; no bsdiff writer produces one); a seek that leaves the
// old position outside [0, |base|]; more than N + 1 triples (bounds the work a small,
// highly compressed control block can cause); a stream that ends early, has data or bytes
// after the end, or fails bzip2's CRC checks. Those CRCs cover every decoded byte, so damage
// never yields a wrong output; a few bits bzip2 does not check (the "BZh9" block-size digit,
// padding, an unused Huffman table...) can be flipped with no effect at all.
//
// The algorithm (MakeBsdiffPatch):
//  1. Sort the suffixes of the base (libdivsufsort; 4 bytes per base byte) and note where the
//     suffixes of each 2-byte prefix start (so a search only bisects its own bucket).
//  2. Walk the target. At each position find the longest exact match in the base by binary
//     search over the suffix array. While walking, keep a running score of how many target
//     bytes in the window still agree with the base at the current alignment (the offset of
//     the previous match). A new match is taken when it is exact with the current alignment
//     (then nothing changes: jump over it) or beats the current alignment by more than 8 bytes;
//     otherwise step one byte and search again.
//  3. When a new alignment is taken, the stretch between the previous match and the new one
//     is split: the previous match is extended forwards as long as more than half of the bytes
//     agree (these become diff bytes: small changes inside a match compress to almost nothing),
//     the new match is extended backwards the same way, an overlap of the two extensions is
//     split where the agreement score is best, and what remains in the middle is extra bytes.
//  4. Emit one control triple per alignment change; diff bytes are target - base over each
//     extended match; extra bytes are copied; the three streams are bzip2-compressed (level 9).
// Everything is deterministic: same inputs → same patch bytes.
#include "bsdiff.h"

#include <bzlib.h>
#include <divsufsort.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace dk::internal {
namespace {

constexpr char kMagic[8] = {'B', 'S', 'D', 'I', 'F', 'F', '4', '0'};
constexpr size_t kHeaderSize = 32;
constexpr size_t kTripleSize = 24;
constexpr int kBzLevel = 9;
// A new match must beat the current alignment by more than this many bytes to be taken.
constexpr int64_t kMinGain = 8;
// Scratch size for feeding streams to the compressor.
constexpr size_t kChunk = 64 * 1024;

// --- offt encoding ---------------------------------------------------------------------------

void PutOfft(int64_t x, uint8_t* out) {
  uint64_t magnitude = x < 0 ? uint64_t{0} - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(magnitude >> (8 * i));
  if (x < 0) out[7] |= 0x80;
}

// Decodes an offt; "-0" reads as 0 (as the stock bspatch does).
int64_t GetOfft(const uint8_t* in) {
  uint64_t magnitude = 0;
  for (int i = 7; i >= 0; --i) magnitude = (magnitude << 8) | in[i];
  magnitude &= ~(uint64_t{1} << 63);
  int64_t value = static_cast<int64_t>(magnitude);
  return (in[7] & 0x80) ? -value : value;
}

std::string BzErrorName(int code) {
  switch (code) {
    case BZ_OK:
      return "BZ_OK";
    case BZ_STREAM_END:
      return "BZ_STREAM_END";
    case BZ_SEQUENCE_ERROR:
      return "BZ_SEQUENCE_ERROR";
    case BZ_PARAM_ERROR:
      return "BZ_PARAM_ERROR";
    case BZ_MEM_ERROR:
      return "BZ_MEM_ERROR";
    case BZ_DATA_ERROR:
      return "BZ_DATA_ERROR (CRC or format error)";
    case BZ_DATA_ERROR_MAGIC:
      return "BZ_DATA_ERROR_MAGIC (not a bzip2 stream)";
    default:
      return "bzip2 error " + std::to_string(code);
  }
}

// --- matching --------------------------------------------------------------------------------

// Length of the common prefix of a and b, at most `limit`.
size_t CommonPrefix(const uint8_t* a, const uint8_t* b, size_t limit) {
  size_t i = 0;
  if constexpr (std::endian::native == std::endian::little) {
    while (i + 8 <= limit) {
      uint64_t x, y;
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return i + static_cast<size_t>(std::countr_zero(x ^ y)) / 8;
      i += 8;
    }
  }
  while (i < limit && a[i] == b[i]) ++i;
  return i;
}

struct Match {
  int64_t pos = 0;  // offset in the base
  int64_t len = 0;
};

// The base's suffix array plus, for each 2-byte prefix, where its suffixes start in it: a
// search then bisects only the suffixes that share the query's first two bytes.
struct SuffixIndex {
  std::vector<int32_t> sa;
  std::vector<int32_t> bucket;  // 65537 entries: suffixes starting with (a, b) are
                                // sa[bucket[a * 256 + b] .. bucket[a * 256 + b + 1])
};

Status BuildSuffixIndex(ByteView base, SuffixIndex* index) {
  const size_t n = base.size();
  index->sa.assign(n, 0);
  index->bucket.assign(65537, 0);
  if (n == 0) return Status::Ok();
  int rc = divsufsort(base.data(), index->sa.data(), static_cast<int32_t>(n));
  if (rc != 0) {
    return Status::Internal("bsdiff: divsufsort failed with " + std::to_string(rc) +
                            " on a base of " + std::to_string(n) + " bytes");
  }
  std::vector<int32_t>& start = index->bucket;
  for (size_t i = 0; i + 1 < n; ++i) ++start[(base[i] << 8 | base[i + 1]) + 1];
  // The one-byte suffix (the last byte) sorts first among the suffixes starting with its byte.
  const int last = base[n - 1];
  int32_t pos = 0;
  for (int key = 0; key < 65536; ++key) {
    if ((key & 0xFF) == 0 && (key >> 8) == last) ++pos;
    int32_t count = start[key + 1];
    start[key] = pos;
    pos += count;
  }
  start[65536] = pos;
  return Status::Ok();
}

// Finds the base suffix sharing the longest prefix with `query` by binary search over the
// suffix array, skipping the prefix already known to be shared with both ends of the range.
Match LongestMatch(ByteView base, const SuffixIndex& index, const uint8_t* query,
                   size_t query_len) {
  const size_t n = base.size();
  if (n == 0 || query_len == 0) return {};
  const std::vector<int32_t>& sa = index.sa;
  // Common prefix of the query with the suffix at sa[i], given `known` bytes already equal.
  auto prefix_at = [&](size_t i, size_t known) {
    size_t pos = static_cast<size_t>(sa[i]);
    size_t limit = std::min(query_len, n - pos);
    known = std::min(known, limit);
    return known + CommonPrefix(query + known, base.data() + pos + known, limit - known);
  };
  size_t lo = 0, hi = n - 1;
  size_t known = 0;
  if (query_len >= 2) {
    const int key = query[0] << 8 | query[1];
    const size_t first = static_cast<size_t>(index.bucket[key]);
    const size_t end = static_cast<size_t>(index.bucket[key + 1]);
    if (first < end) {  // else no suffix shares two bytes: search everything
      lo = first;
      hi = end - 1;
      known = 2;
    }
  }
  size_t lo_len = prefix_at(lo, known);
  size_t hi_len = hi == lo ? lo_len : prefix_at(hi, known);
  while (hi - lo > 1 && lo_len < query_len && hi_len < query_len) {
    size_t mid = lo + (hi - lo) / 2;
    size_t len = prefix_at(mid, std::min(lo_len, hi_len));
    size_t pos = static_cast<size_t>(sa[mid]);
    if (len == query_len) return {static_cast<int64_t>(pos), static_cast<int64_t>(len)};
    bool suffix_is_smaller = pos + len == n || base[pos + len] < query[len];
    if (suffix_is_smaller) {
      lo = mid;
      lo_len = len;
    } else {
      hi = mid;
      hi_len = len;
    }
  }
  if (lo_len >= hi_len) return {sa[lo], static_cast<int64_t>(lo_len)};
  return {sa[hi], static_cast<int64_t>(hi_len)};
}

struct Triple {
  int64_t add;
  int64_t copy;
  int64_t seek;
};

// Steps 2 and 3 of the algorithm: the control triples turning base into target.
std::vector<Triple> ComputeTriples(ByteView base, ByteView target, const SuffixIndex& index) {
  const uint8_t* old_data = base.data();
  const uint8_t* new_data = target.data();
  const int64_t old_size = static_cast<int64_t>(base.size());
  const int64_t new_size = static_cast<int64_t>(target.size());
  // Does target[i] agree with base[i + offset]?
  auto agrees = [&](int64_t i, int64_t offset) {
    int64_t j = i + offset;
    return j >= 0 && j < old_size && old_data[j] == new_data[i];
  };

  std::vector<Triple> triples;
  int64_t scan = 0;       // current target position
  int64_t match_pos = 0;  // base offset of the match found at `scan`
  int64_t match_len = 0;
  int64_t last_scan = 0;    // where the previous match starts in the target (after extension)
  int64_t last_pos = 0;     // and in the base
  int64_t last_offset = 0;  // base offset - target offset of the current alignment
  while (scan < new_size) {
    // Agreement of target[scan, scored_end) with the current alignment.
    int64_t aligned_score = 0;
    scan += match_len;
    int64_t scored_end = scan;
    for (; scan < new_size; ++scan) {
      Match m = LongestMatch(base, index, new_data + scan, static_cast<size_t>(new_size - scan));
      match_pos = m.pos;
      match_len = m.len;
      for (; scored_end < scan + match_len; ++scored_end) {
        if (agrees(scored_end, last_offset)) ++aligned_score;
      }
      bool same_as_aligned = match_len == aligned_score && match_len != 0;
      if (same_as_aligned || match_len > aligned_score + kMinGain) break;
      if (agrees(scan, last_offset)) --aligned_score;
    }
    if (match_len == aligned_score && scan != new_size) continue;  // nothing new: keep going

    // Extend the previous match forwards: the longest prefix where agreement beats 50%.
    int64_t forward_len = 0;
    {
      int64_t agree = 0, best = 0;
      for (int64_t i = 0; last_scan + i < scan && last_pos + i < old_size;) {
        if (old_data[last_pos + i] == new_data[last_scan + i]) ++agree;
        ++i;
        if (agree * 2 - i > best * 2 - forward_len) {
          best = agree;
          forward_len = i;
        }
      }
    }
    // Extend the new match backwards the same way.
    int64_t backward_len = 0;
    if (scan < new_size) {
      int64_t agree = 0, best = 0;
      for (int64_t i = 1; scan >= last_scan + i && match_pos >= i; ++i) {
        if (old_data[match_pos - i] == new_data[scan - i]) ++agree;
        if (agree * 2 - i > best * 2 - backward_len) {
          best = agree;
          backward_len = i;
        }
      }
    }
    // If the extensions overlap, give each byte of the overlap to the side it agrees with best.
    if (last_scan + forward_len > scan - backward_len) {
      const int64_t overlap = (last_scan + forward_len) - (scan - backward_len);
      int64_t score = 0, best = 0, split = 0;
      for (int64_t i = 0; i < overlap; ++i) {
        int64_t f = last_scan + forward_len - overlap + i;
        int64_t b = scan - backward_len + i;
        if (new_data[f] == old_data[last_pos + forward_len - overlap + i]) ++score;
        if (new_data[b] == old_data[match_pos - backward_len + i]) --score;
        if (score > best) {
          best = score;
          split = i + 1;
        }
      }
      forward_len += split - overlap;
      backward_len -= split;
    }
    triples.push_back({forward_len, (scan - backward_len) - (last_scan + forward_len),
                       (match_pos - backward_len) - (last_pos + forward_len)});
    last_scan = scan - backward_len;
    last_pos = match_pos - backward_len;
    last_offset = match_pos - scan;
  }
  return triples;
}

// --- bzip2 streams ---------------------------------------------------------------------------

// Compresses one bzip2 stream, appending it to `out`.
class BzWriter {
 public:
  BzWriter(std::string_view name, Bytes* out) : name_(name), out_(out) {}
  ~BzWriter() {
    if (initialized_) BZ2_bzCompressEnd(&strm_);
  }
  BzWriter(const BzWriter&) = delete;
  BzWriter& operator=(const BzWriter&) = delete;

  Status Init() {
    std::memset(&strm_, 0, sizeof(strm_));
    int rc = BZ2_bzCompressInit(&strm_, kBzLevel, 0, 0);
    if (rc != BZ_OK) return Error("init", rc);
    initialized_ = true;
    start_ = out_->size();
    return Status::Ok();
  }
  Status Append(const uint8_t* data, size_t size) {
    while (size > 0) {
      unsigned int piece = static_cast<unsigned int>(std::min<size_t>(size, UINT_MAX));
      // bzip2 does not write through next_in; its API just lacks the const.
      strm_.next_in = const_cast<char*>(reinterpret_cast<const char*>(data));
      strm_.avail_in = piece;
      while (strm_.avail_in > 0) {
        int rc = Step(BZ_RUN);
        if (rc != BZ_RUN_OK) return Error("compress", rc);
      }
      data += piece;
      size -= piece;
    }
    return Status::Ok();
  }
  // Ends the stream; returns its compressed length.
  Result<size_t> Finish() {
    strm_.next_in = nullptr;
    strm_.avail_in = 0;
    for (;;) {
      int rc = Step(BZ_FINISH);
      if (rc == BZ_STREAM_END) break;
      if (rc != BZ_FINISH_OK) return Error("finish", rc);
    }
    return out_->size() - start_;
  }

 private:
  // One BZ2_bzCompress call into the scratch buffer; appends what it wrote to *out_.
  int Step(int action) {
    strm_.next_out = reinterpret_cast<char*>(scratch_.data());
    strm_.avail_out = static_cast<unsigned int>(scratch_.size());
    int rc = BZ2_bzCompress(&strm_, action);
    size_t written = scratch_.size() - strm_.avail_out;
    out_->insert(out_->end(), scratch_.begin(), scratch_.begin() + static_cast<ptrdiff_t>(written));
    return rc;
  }

  Status Error(std::string_view what, int rc) const {
    return Status::Internal("bsdiff: bzip2 " + std::string(what) + " of the " + name_ +
                            " block failed: " + BzErrorName(rc));
  }

  std::string name_;
  Bytes* out_;
  Bytes scratch_ = Bytes(kChunk);
  bz_stream strm_;
  bool initialized_ = false;
  size_t start_ = 0;
};

// Reads one bzip2 stream that must fill exactly a region of the patch.
class BzReader {
 public:
  BzReader(std::string_view name, size_t patch_offset) : name_(name), patch_offset_(patch_offset) {}
  ~BzReader() {
    if (initialized_) BZ2_bzDecompressEnd(&strm_);
  }
  BzReader(const BzReader&) = delete;
  BzReader& operator=(const BzReader&) = delete;

  Status Init(ByteView compressed) {
    if (compressed.size() > UINT_MAX) {
      return Status::Corruption("bsdiff patch: " + name_ + " block of " +
                                std::to_string(compressed.size()) + " bytes is too large");
    }
    std::memset(&strm_, 0, sizeof(strm_));
    int rc = BZ2_bzDecompressInit(&strm_, 0, 0);
    if (rc != BZ_OK) {
      return Status::Internal("bsdiff: bzip2 init for the " + name_ +
                              " block failed: " + BzErrorName(rc));
    }
    initialized_ = true;
    strm_.next_in = const_cast<char*>(reinterpret_cast<const char*>(compressed.data()));
    strm_.avail_in = static_cast<unsigned int>(compressed.size());
    compressed_size_ = compressed.size();
    return Status::Ok();
  }

  // Reads exactly `size` bytes into `dst`; `why` says what they are for (error messages).
  Status Read(uint8_t* dst, size_t size, std::string_view why) {
    while (size > 0) {
      if (ended_) {
        return Corrupt("stream ends after " + std::to_string(produced_) + " bytes, " +
                       std::to_string(size) + " short of " + std::string(why));
      }
      unsigned int want = static_cast<unsigned int>(std::min<size_t>(size, UINT_MAX));
      unsigned int in_before = strm_.avail_in;
      strm_.next_out = reinterpret_cast<char*>(dst);
      strm_.avail_out = want;
      int rc = BZ2_bzDecompress(&strm_);
      size_t got = want - strm_.avail_out;
      produced_ += got;
      dst += got;
      size -= got;
      if (rc == BZ_STREAM_END) {
        ended_ = true;
      } else if (rc != BZ_OK) {
        return Corrupt(BzErrorName(rc) + " near compressed byte " +
                       std::to_string(compressed_size_ - strm_.avail_in) + " (after " +
                       std::to_string(produced_) + " bytes out)");
      } else if (got == 0 && strm_.avail_in == in_before) {
        return Corrupt("compressed data truncated after " + std::to_string(compressed_size_) +
                       " bytes (" + std::to_string(produced_) + " bytes out, " +
                       std::to_string(size) + " short of " + std::string(why) + ")");
      }
    }
    return Status::Ok();
  }

  // Checks that the stream ends exactly here: end marker and CRCs seen, no byte after it.
  Status Finish() {
    while (!ended_) {
      uint8_t extra;
      unsigned int in_before = strm_.avail_in;
      strm_.next_out = reinterpret_cast<char*>(&extra);
      strm_.avail_out = 1;
      int rc = BZ2_bzDecompress(&strm_);
      if (strm_.avail_out == 0) {
        return Corrupt("holds data after the " + std::to_string(produced_) +
                       " bytes the control triples use");
      }
      if (rc == BZ_STREAM_END) {
        ended_ = true;
      } else if (rc != BZ_OK) {
        return Corrupt(BzErrorName(rc) + " near compressed byte " +
                       std::to_string(compressed_size_ - strm_.avail_in));
      } else if (strm_.avail_in == in_before) {
        return Corrupt("compressed data truncated after " + std::to_string(compressed_size_) +
                       " bytes (end-of-stream marker missing)");
      }
    }
    if (strm_.avail_in != 0) {
      return Corrupt(std::to_string(strm_.avail_in) + " trailing bytes after the end of the " +
                     "bzip2 stream");
    }
    return Status::Ok();
  }

  uint64_t produced() const { return produced_; }

 private:
  Status Corrupt(const std::string& what) const {
    return Status::Corruption("bsdiff patch: " + name_ + " block (patch offset " +
                              std::to_string(patch_offset_) + "): " + what);
  }

  std::string name_;
  size_t patch_offset_;
  bz_stream strm_;
  bool initialized_ = false;
  bool ended_ = false;
  size_t compressed_size_ = 0;
  uint64_t produced_ = 0;
};

}  // namespace

Result<Bytes> MakeBsdiffPatch(ByteView base, ByteView target) {
  if (base.size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return Status::InvalidArgument("bsdiff: base of " + std::to_string(base.size()) +
                                   " bytes is too large for a 32-bit suffix array");
  }
  std::vector<Triple> triples;
  {
    SuffixIndex index;
    DK_RETURN_IF_ERROR(BuildSuffixIndex(base, &index));
    triples = ComputeTriples(base, target, index);
  }  // the suffix array is freed before compressing

  Bytes patch(kHeaderSize);
  std::memcpy(patch.data(), kMagic, sizeof(kMagic));

  // Control block.
  size_t ctrl_len;
  {
    BzWriter writer("control", &patch);
    DK_RETURN_IF_ERROR(writer.Init());
    std::vector<uint8_t> buf;
    buf.reserve(kChunk);
    for (const Triple& t : triples) {
      uint8_t enc[kTripleSize];
      PutOfft(t.add, enc);
      PutOfft(t.copy, enc + 8);
      PutOfft(t.seek, enc + 16);
      buf.insert(buf.end(), enc, enc + kTripleSize);
      if (buf.size() + kTripleSize > kChunk) {
        DK_RETURN_IF_ERROR(writer.Append(buf.data(), buf.size()));
        buf.clear();
      }
    }
    DK_RETURN_IF_ERROR(writer.Append(buf.data(), buf.size()));
    DK_ASSIGN_OR_RETURN(ctrl_len, writer.Finish());
  }
  // Diff block: target - base over each add range.
  size_t diff_len;
  {
    BzWriter writer("diff", &patch);
    DK_RETURN_IF_ERROR(writer.Init());
    std::vector<uint8_t> buf(kChunk);
    size_t new_pos = 0, old_pos = 0;
    for (const Triple& t : triples) {
      size_t remaining = static_cast<size_t>(t.add);
      while (remaining > 0) {
        size_t n = std::min(remaining, kChunk);
        for (size_t i = 0; i < n; ++i) {
          buf[i] = static_cast<uint8_t>(target[new_pos + i] - base[old_pos + i]);
        }
        DK_RETURN_IF_ERROR(writer.Append(buf.data(), n));
        new_pos += n;
        old_pos += n;
        remaining -= n;
      }
      new_pos += static_cast<size_t>(t.copy);
      old_pos = static_cast<size_t>(static_cast<int64_t>(old_pos) + t.seek);
    }
    DK_ASSIGN_OR_RETURN(diff_len, writer.Finish());
  }
  // Extra block: the copy ranges of the target, verbatim.
  {
    BzWriter writer("extra", &patch);
    DK_RETURN_IF_ERROR(writer.Init());
    size_t new_pos = 0;
    for (const Triple& t : triples) {
      new_pos += static_cast<size_t>(t.add);
      DK_RETURN_IF_ERROR(writer.Append(target.data() + new_pos, static_cast<size_t>(t.copy)));
      new_pos += static_cast<size_t>(t.copy);
    }
    DK_RETURN_IF_ERROR(writer.Finish().status());
  }
  PutOfft(static_cast<int64_t>(ctrl_len), patch.data() + 8);
  PutOfft(static_cast<int64_t>(diff_len), patch.data() + 16);
  PutOfft(static_cast<int64_t>(target.size()), patch.data() + 24);
  patch.shrink_to_fit();
  return patch;
}

Result<Bytes> ApplyBsdiffPatch(ByteView base, ByteView patch, size_t max_output) {
  auto corrupt = [](const std::string& what) {
    return Status::Corruption("bsdiff patch: " + what);
  };
  if (patch.size() < kHeaderSize) {
    return corrupt(std::to_string(patch.size()) + " bytes, shorter than the 32-byte header");
  }
  if (std::memcmp(patch.data(), kMagic, sizeof(kMagic)) != 0) {
    return corrupt("bad magic (want \"BSDIFF40\" at offset 0)");
  }
  const int64_t ctrl_len = GetOfft(patch.data() + 8);
  const int64_t diff_len = GetOfft(patch.data() + 16);
  const int64_t new_size = GetOfft(patch.data() + 24);
  if (ctrl_len < 0) {
    return corrupt("control block length at offset 8 is negative: " + std::to_string(ctrl_len));
  }
  if (diff_len < 0) {
    return corrupt("diff block length at offset 16 is negative: " + std::to_string(diff_len));
  }
  if (new_size < 0) {
    return corrupt("new size at offset 24 is negative: " + std::to_string(new_size));
  }
  const uint64_t body = patch.size() - kHeaderSize;
  if (static_cast<uint64_t>(ctrl_len) > body) {
    return corrupt("control block length " + std::to_string(ctrl_len) +
                   " (offset 8) runs past the end of the " + std::to_string(patch.size()) +
                   "-byte patch");
  }
  if (static_cast<uint64_t>(diff_len) > body - static_cast<uint64_t>(ctrl_len)) {
    return corrupt("diff block length " + std::to_string(diff_len) + " (offset 16) after a " +
                   std::to_string(ctrl_len) + "-byte control block runs past the end of the " +
                   std::to_string(patch.size()) + "-byte patch");
  }
  if (static_cast<uint64_t>(new_size) > max_output) {
    return corrupt("declares a new size of " + std::to_string(new_size) +
                   " bytes (offset 24), above max_output " + std::to_string(max_output));
  }
  const size_t ctrl_off = kHeaderSize;
  const size_t diff_off = ctrl_off + static_cast<size_t>(ctrl_len);
  const size_t extra_off = diff_off + static_cast<size_t>(diff_len);
  BzReader ctrl("control", ctrl_off), diff("diff", diff_off), extra("extra", extra_off);
  DK_RETURN_IF_ERROR(ctrl.Init(patch.subspan(ctrl_off, static_cast<size_t>(ctrl_len))));
  DK_RETURN_IF_ERROR(diff.Init(patch.subspan(diff_off, static_cast<size_t>(diff_len))));
  DK_RETURN_IF_ERROR(extra.Init(patch.subspan(extra_off)));

  Bytes out(static_cast<size_t>(new_size));
  const int64_t old_size = static_cast<int64_t>(base.size());
  int64_t new_pos = 0, old_pos = 0;
  uint64_t index = 0;
  while (new_pos < new_size) {
    auto bad_triple = [&](const std::string& what) {
      return corrupt("control triple " + std::to_string(index) + " (control offset " +
                     std::to_string(index * kTripleSize) + "): " + what);
    };
    if (index > static_cast<uint64_t>(new_size)) {
      return bad_triple("more control triples than new bytes (" + std::to_string(new_size) + ")");
    }
    uint8_t enc[kTripleSize];
    DK_RETURN_IF_ERROR(ctrl.Read(enc, kTripleSize,
                                 "control triple " + std::to_string(index) + ", new offset " +
                                     std::to_string(new_pos) + " of " + std::to_string(new_size)));
    const int64_t add = GetOfft(enc), copy = GetOfft(enc + 8), seek = GetOfft(enc + 16);
    if (add < 0) return bad_triple("negative diff length " + std::to_string(add));
    if (copy < 0) return bad_triple("negative extra length " + std::to_string(copy));
    if (add > new_size - new_pos) {
      return bad_triple("diff length " + std::to_string(add) + " at new offset " +
                        std::to_string(new_pos) + " runs past new size " +
                        std::to_string(new_size));
    }
    if (add > old_size - old_pos) {
      return bad_triple("diff length " + std::to_string(add) + " at old offset " +
                        std::to_string(old_pos) + " runs past the " + std::to_string(old_size) +
                        "-byte base");
    }
    uint8_t* dst = out.data() + new_pos;
    DK_RETURN_IF_ERROR(
        diff.Read(dst, static_cast<size_t>(add), "control triple " + std::to_string(index)));
    const uint8_t* src = base.data() + old_pos;
    for (int64_t i = 0; i < add; ++i) dst[i] = static_cast<uint8_t>(dst[i] + src[i]);
    new_pos += add;
    old_pos += add;
    if (copy > new_size - new_pos) {
      return bad_triple("extra length " + std::to_string(copy) + " at new offset " +
                        std::to_string(new_pos) + " runs past new size " +
                        std::to_string(new_size));
    }
    DK_RETURN_IF_ERROR(extra.Read(out.data() + new_pos, static_cast<size_t>(copy),
                                  "control triple " + std::to_string(index)));
    new_pos += copy;
    if (seek < -old_pos || seek > old_size - old_pos) {
      return bad_triple("seek " + std::to_string(seek) + " from old offset " +
                        std::to_string(old_pos) + " leaves the " + std::to_string(old_size) +
                        "-byte base");
    }
    old_pos += seek;
    ++index;
  }
  DK_RETURN_IF_ERROR(ctrl.Finish());
  DK_RETURN_IF_ERROR(diff.Finish());
  DK_RETURN_IF_ERROR(extra.Finish());
  return out;
}

}  // namespace dk::internal
