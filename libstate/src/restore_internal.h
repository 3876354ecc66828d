// Verified streaming of one file version's content (private): the one place that checks a
// version's chunks on the way out, shared by restore and by the store's own reads.
#pragma once

#include <cstdint>
#include <functional>

#include "fs_safe.h"
#include "libstate/manifest.h"
#include "libstate/status.h"
#include "libstate/store.h"

namespace dk {

// Receives one verified chunk (ownership passes to the sink).
using ChunkSink = std::function<Status(Bytes chunk)>;

// Streams file version `v` into `sink` chunk by chunk: checks the chunk list against the
// version's Merkle root first, then each fetched chunk's size and (unless src.VerifiesIds())
// its SHA-256 against its id, and at the end that the sizes add up to v.size. Memory stays at
// one chunk whatever the file size. Corruption names the file, the version and the object;
// the sink may have received a prefix of the content by then. *bytes counts what was written.
Status StreamVerified(const VersionInfo& v, ChunkSource& src, const ChunkSink& sink,
                      uint64_t* bytes);

}  // namespace dk
