// Read probes (s41): bench/read_stream.ptx's bench_read_rows_ld and bench_read_rows_ca read a
// decode cell's K and V bytes exactly as a split grid does (one CTA per KV head, split and
// sequence; 64-key tiles of K then V rows; 16-byte chunks), with nothing else in the CTA. Why:
// cuDNN's contiguous d128 decode kernel reads 1-2% past bench_read_stream's rate while our
// cp.async row reads at it (bench/DECODE_NOTES.md, s29-s40); the probes time the issue styles
// apart from the split kernel's own work:
//   ld      every thread loads its chunks into registers (ld.global.nc), as the ceiling kernel
//           does, in the decode's pattern; no shared memory, so as many CTAs per SM as fit;
//   caN     N threads (32: one warp, our producer's style; 64: two; 128: the whole CTA, cuDNN's) copy the
//           chunks with cp.async into a ring of three [K tile | V tile] stages (the d128 row's
//           residency: 96 KiB, two CTAs per SM);
//   a trailing "x1": one split per (sequence, head) (cuDNN's grid) instead of the plan's count.
// The bench (--ptxfmha_read_probes=LIST) times each probe beside the cell's three sides, after
// checking that it XORs the same words into the sink as bench_read_stream over the same bytes.
// Pure (CPU-tested): the names and the launch geometry.
#pragma once

#include <cstdint>
#include <string>

namespace ptxfmha_bench {

constexpr int kProbeTileKeys = 64;    // TILE_KEYS in read_stream.ptx
constexpr int kProbeRingStages = 3;   // RING_STAGES
constexpr int kProbeThreads = 128;

struct ReadProbe {
  std::string name;       // as given: ld, ca32, ca128, ca32x1, ...
  bool cp_async = false;  // bench_read_rows_ca (else _ld)
  int issuers = 128;      // threads that copy (ca) / load (ld: always 128)
  bool one_split = false; // "x1": one split per (sequence, head)
};

// "ld" | "ca32" | "ca64" | "ca128", optionally followed by "x1". false and *why on anything else.
bool parse_read_probe(const std::string& s, ReadProbe* p, std::string* why);

// The kernels' arguments and launch shape.
struct ReadProbeLaunch {
  uint64_t batch_stride_bytes = 0, key_stride_bytes = 0;
  uint32_t row_bytes = 0, row_vecs_log2 = 0, split_keys = 0, keys = 0, issuers = 0;
  uint32_t grid[3] = {0, 0, 0};  // heads_kv, splits, batch
  uint32_t smem_bytes = 0;       // dynamic shared memory (ca: the ring)
};

// A cache of [batch, keys, heads_kv, row_bytes] (row_bytes = head_dim x element bytes) read in
// `splits` key ranges of whole tiles (the plan's count, or 1 for an "x1" probe). "" and *out, or
// why the probe cannot read it (keys not a multiple of 64, rows the kernel cannot walk, a grid
// too large).
std::string read_probe_launch(const ReadProbe& p, int64_t batch, int64_t keys, int64_t heads_kv,
                              int64_t row_bytes, int splits, ReadProbeLaunch* out);

}  // namespace ptxfmha_bench
