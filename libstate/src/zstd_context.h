// Reusable zstd contexts (private). Creating a context costs more than compressing or
// decompressing a small chunk (ZSTD_createDCtx was 15% of the CPU of capturing a 4 KiB
// file), so each thread keeps one compression and one decompression context.
//
// Each call resets the context's session and parameters, so output never depends on what
// the context did before (byte-identical to a fresh context). The returned pointer is valid
// on the calling thread until its next call of the same function; never share it across
// threads. Memory: one context of each kind per thread that compresses or decompresses,
// sized by the largest job it has run (libzstd shrinks a workspace that stays oversized).
#pragma once

#include <zstd.h>

namespace dk {

ZSTD_CCtx* ThreadCCtx();  // nullptr only when allocation failed
ZSTD_DCtx* ThreadDCtx();  // nullptr only when allocation failed

}  // namespace dk
