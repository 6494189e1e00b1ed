// The decode benchmark's yardsticks, measured in the same process as the kernels
// (bench/read_stream.ptx, assembled by bench.mk, loaded through the Driver API):
//   - the read ceiling: a read-only streaming kernel over a decode cell's K and V (the same
//     bytes, rotation sets included) is timed as a third side of every decode cell; its GB/s is
//     the ceiling the cell's two sides are reported against (pct_ceiling);
//   - the launch floor: an empty kernel launched back to back (us per launch), measured once;
//   - read probes (read_probe.h, --ptxfmha_read_probes): the cell's bytes read in a split
//     grid's pattern, each checked against the ceiling kernel's XOR of the same bytes.
// Without the cubin (a build without ptxas, another architecture) both are reported absent.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "read_probe.h"

namespace ptxfmha_bench {

class ReadCeiling {
 public:
  // Loads the cubin for this device (once); false with why() when it cannot.
  bool load();
  bool ok() const { return read_ != nullptr; }
  const std::string& why() const { return why_; }
  // Reads `bytes_each` bytes at a and at b (16-byte multiples). "" or the error.
  std::string launch_read(const void* a, const void* b, std::size_t bytes_each, CUstream s);
  std::string launch_empty(CUstream s);
  // A read probe over k and v (each l's batch x keys x heads_kv x row_bytes bytes). "" or why.
  std::string launch_probe(const ReadProbe& p, const ReadProbeLaunch& l, const void* k, const void* v,
                           CUstream s);
  // Zeroes the sink, runs `launch` (kernels on s), waits for s and reads the sink into *x: "" or
  // the error. Every kernel here XORs each word it reads into the sink.
  std::string sink_after(const std::function<std::string()>& launch, CUstream s, uint32_t* x);
  // The launch floor: ms per empty launch, back to back (median of batches); NAN until
  // measured or when it cannot be.
  double launch_floor_ms();
  const std::string& floor_error() const { return why_floor_; }
  std::string config() const;  // "grid 792 x 256 threads, cubin <path>"

 private:
  CUmodule module_ = nullptr;
  CUfunction read_ = nullptr, empty_ = nullptr, rows_ld_ = nullptr, rows_ca_ = nullptr;
  CUdeviceptr sink_ = 0;
  int grid_ = 0, block_ = 256;
  bool tried_ = false, floor_done_ = false;
  double floor_ms_ = 0;
  std::string why_ = "not loaded", path_, why_floor_;
};

ReadCeiling& read_ceiling();

struct Case;
struct CaseState;
// Decode, before timing: each of g_opt.read_probes' launch for the cell (its bytes read as a
// [batch, seqlen_k, heads_kv, head_dim] cache, in the plan's splits or one) and its check: it
// must leave the ceiling kernel's XOR of the same bytes in the sink. cs.probe_skip says why a
// probe is not timed (printed). PTXFMHA_BENCH_PROBE_MUTATE=1 leaves each sequence's last tile
// unread (the check's mutation: every probe must then be refused).
void prepare_read_probes(const Case& c, CaseState& cs);

}  // namespace ptxfmha_bench
