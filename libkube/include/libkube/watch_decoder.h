// WatchDecoder: incremental decoder of a watch response body.
//
// The API server streams one JSON object per line ({"type":"ADDED","object":{…}}\n). HTTP chunk
// boundaries fall anywhere: inside a line, between the bytes of a UTF-8 sequence, several
// events in one chunk. Feed() buffers the incomplete tail and decodes every complete line.
// Blank lines are skipped. A line longer than `max_line_bytes` or that is not a valid event
// (bad JSON, unknown type, missing object) is Corruption, naming the problem; after an error
// the decoder must not be fed again.
//
// Thread-compatible: one owner (the thread reading the stream).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "libkube/watch_event.h"
#include "libstate/status.h"

namespace dk::kube {

class WatchDecoder {
 public:
  static constexpr size_t kDefaultMaxLineBytes = 64u << 20;  // a huge object, still bounded

  explicit WatchDecoder(size_t max_line_bytes = kDefaultMaxLineBytes)
      : max_line_bytes_(max_line_bytes) {}

  // Appends `chunk` and moves every complete event into `*out` (appending, in order).
  Status Feed(std::string_view chunk, std::vector<WatchEvent>* out);
  // At the end of the body: Corruption when a partial line remains.
  Status Finish() const;
  size_t buffered_bytes() const { return pending_.size(); }

 private:
  Status DecodeLine(std::string_view line, std::vector<WatchEvent>* out) const;

  size_t max_line_bytes_;
  std::string pending_;
};

}  // namespace dk::kube
