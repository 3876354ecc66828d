// Merkle roots over content: one per file version (leaves = SHA-256 of its content-defined
// chunks, in order) and one per capture set (leaves = hash of each live entry's path, type,
// metadata and file root, sorted by path).
//
// Node rule (part of the format): internal = SHA-256(0x01 || left || right); an odd last
// node is promoted unchanged; the root of n >= 1 leaves is SHA-256(0x00 || top) so a root
// never equals a chunk id; the root of no leaves is SHA-256(0x02).
// Thread-safe: pure functions.
#pragma once

#include <span>

#include "libstate/hash.h"

namespace dk {

ObjectId MerkleRoot(std::span<const ObjectId> leaves);

}  // namespace dk
