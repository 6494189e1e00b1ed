#include "read_probe.h"

#include <string>

namespace ptxfmha_bench {

bool parse_read_probe(const std::string& s, ReadProbe* p, std::string* why) {
  ReadProbe r;
  r.name = s;
  std::string base = s;
  if (base.size() > 2 && base.compare(base.size() - 2, 2, "x1") == 0) {
    r.one_split = true;
    base.resize(base.size() - 2);
  }
  if (base == "ld") {
    r.cp_async = false;
    r.issuers = kProbeThreads;
  } else if (base == "ca32" || base == "ca64" || base == "ca128") {
    r.cp_async = true;
    r.issuers = std::stoi(base.substr(2));
  } else {
    if (why) *why = "read probe '" + s + "': expected ld, ca32, ca64 or ca128, optionally followed by x1";
    return false;
  }
  *p = r;
  return true;
}

std::string read_probe_launch(const ReadProbe& p, int64_t batch, int64_t keys, int64_t heads_kv,
                              int64_t row_bytes, int splits, ReadProbeLaunch* out) {
  const std::string who = "read probe " + p.name + ": ";
  if (batch < 1 || batch > 65535) return who + "batch " + std::to_string(batch) + " outside 1..65535";
  if (heads_kv < 1 || heads_kv > (int64_t(1) << 31) - 1) return who + "heads_kv out of range";
  if (keys < kProbeTileKeys || keys % kProbeTileKeys != 0 || keys > (int64_t(1) << 30))
    return who + "keys " + std::to_string(keys) + " not a positive multiple of 64 (up to 2^30)";
  int log2 = -1;
  for (int i = 1; i <= 5; ++i)
    if (row_bytes == int64_t(16) << i) log2 = i;
  if (log2 < 0) return who + "row of " + std::to_string(row_bytes) + " bytes: 32..512, a power of two";
  // ld: four chunks of K and four of V per step, TILE_KEYS x row_vecs / 128 per thread and tile.
  if (!p.cp_async && (kProbeTileKeys << log2) / kProbeThreads % 4 != 0)
    return who + "row of " + std::to_string(row_bytes) + " bytes: ld needs >= 128";
  if (p.issuers % 32 != 0 || p.issuers > kProbeThreads || p.issuers % (1 << log2) != 0)
    return who + "issuers " + std::to_string(p.issuers) + ": whole warps, a multiple of the row's 16-byte chunks";
  if (splits < 1) return who + "splits < 1";
  const int s = p.one_split ? 1 : splits;
  const int64_t tiles = keys / kProbeTileKeys;
  const int64_t tiles_per_split = (tiles + s - 1) / s;
  ReadProbeLaunch l;
  l.row_bytes = uint32_t(row_bytes);
  l.row_vecs_log2 = uint32_t(log2);
  l.key_stride_bytes = uint64_t(heads_kv) * uint64_t(row_bytes);
  l.batch_stride_bytes = uint64_t(keys) * l.key_stride_bytes;
  l.keys = uint32_t(keys);
  l.split_keys = uint32_t(tiles_per_split * kProbeTileKeys);
  l.issuers = uint32_t(p.issuers);
  l.grid[0] = uint32_t(heads_kv);
  l.grid[1] = uint32_t((tiles + tiles_per_split - 1) / tiles_per_split);
  l.grid[2] = uint32_t(batch);
  if (l.grid[1] > 65535) return who + "more than 65535 splits";
  l.smem_bytes = p.cp_async ? uint32_t(kProbeRingStages * 2 * kProbeTileKeys * row_bytes) : 0;
  *out = l;
  return "";
}

}  // namespace ptxfmha_bench
