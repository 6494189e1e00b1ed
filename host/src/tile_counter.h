// Tile counters: device memory for the dynamic schedulers of persistent kernels.
//
// Invariants: thread-safe (one mutex); one counter pair per (context, stream) whose lifetime
// is its context's: pairs are carved from 4 KiB slabs (512 pairs each, zeroed and synced
// once per slab), never freed or reused for another stream, and dropped (with the slabs)
// only by forget_context_tile_counters(), which forget_context_modules() calls.
#pragma once
#include <cuda.h>

#include "context.h"
#include "ptxfmha/ptxfmha.h"

namespace ptxfmha {

// Device memory for a persistent kernel's work-tile counter: 2 x u32 {next tile, CTAs done},
// one pair per (context, stream), zeroed when allocated. The kernel's last CTA puts both back
// to zero, so the pair is zero whenever no launch using it runs; launches on one stream never
// overlap (no programmatic serialization on these kernels), so one pair per stream suffices.
// The legacy default stream (NULL or CU_STREAM_LEGACY) is one stream; CU_STREAM_PER_THREAD
// gets one pair per host thread. *out = 0 (use the static schedule) while `stream` is being
// captured into a graph: a graph may be launched on any stream, concurrently with direct
// launches on the captured one, and would then share the pair. Pairs live until the context
// is forgotten (forget_context_modules). Errors: CUDA (allocation).
ptxfmha_status tile_counter(const DeviceInfo& info, CUstream stream, CUdeviceptr* out);
// Drops a context's counter pairs and slabs (the memory dies with the context); called by
// forget_context_modules (module_cache.h).
void forget_context_tile_counters(unsigned long long ctx_id);

}  // namespace ptxfmha
