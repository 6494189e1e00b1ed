// The offline replay of the library's decode plan (bench/decode_replay.h, `ptxfmha decode-plans`)
// against the plans the bench recorded on the GPU (JSON `splits`, `split_ctas`, the label's row):
// H200, 2026-12-03, bench/results/h200-2026-12-03-s13 (this library: the cuDNN-beside run of the
// moved cells, the batch-8 e4m3 run's bf16 cells, the _wg pages-of-16 pair) and -s12 (cells whose
// plans s13 did not move). The replay agreed on all 414 cells the s13 library recorded (and in
// s12 on all 682 of that session's); these are a spread of rows, caches and grids.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "bench_case.h"
#include "decode_replay.h"

using namespace ptxfmha_bench;

namespace {
const Case* find_cell(const std::vector<Case>& cells, const std::string& name) {
  for (const Case& c : cells)
    if (c.name == name) return &c;
  return nullptr;
}

struct Recorded { const char* cell; const char* row; int splits; int64_t ctas; };

// Each recorded plan against the replay of its full-grid cell with kv_bytes bytes per cache
// element (H200: 132 SMs, 228 KiB per SM).
void check_recorded(const std::vector<Case>& cells, const std::vector<Recorded>& rec, int kv_bytes) {
  std::string why;
  for (const Recorded& r : rec) {
    CAPTURE(r.cell);
    const Case* grid_cell = find_cell(cells, r.cell);
    REQUIRE(grid_cell != nullptr);
    Case c = *grid_cell;
    c.kv_elem_bytes = kv_bytes;
    ReplayedDecodePlan p;
    REQUIRE(replay_decode_plan(c, 132, kReplaySmemPerSmBytes, &p, &why));
    CHECK(p.row == r.row);
    CHECK(p.splits == r.splits);
    CHECK(p.ctas == r.ctas);
  }
}
}  // namespace

TEST_CASE("decode replay: the library's plan offline equals the plan recorded on the H200 (CPU)") {
  std::vector<Case> cells;
  std::string why;
  REQUIRE(decode_grid("full", &cells, &why));
  const std::vector<Recorded> rec = {
      {"decode/d64/b1/kv131072/hq128hkv8/q1/contig", "fmha_decode_d64_sm90a", 16, 128},
      {"decode/d64/b8/kv1024/hq32hkv8/q1/contig", "fmha_decode_d64_sm90a", 2, 128},
      {"decode/d64/b4/kv4096/hq64hkv8/q1/page16", "fmha_decode_d64_sm90a", 8, 256},
      {"decode/d64/b1/kv8192/hq32hkv8/q4/page64", "fmha_decode_d64_sm90a", 16, 128},
      {"decode/d256/b1/kv131072/hq128hkv8/q1/contig", "fmha_decode_d256_sm90a", 8, 64},
      {"decode/d256/b8/kv4096/hq32hkv8/q1/page64", "fmha_decode_d256_sm90a", 1, 64},
      {"decode/d256/b4/kv32768/hq32hkv32/q4/page16", "fmha_decode_d256_sm90a", 1, 128},
      {"decode/d256/b1/kv1024/hq128hkv8/q1/page16", "fmha_decode_d256_sm90a", 8, 64},
      {"decode/d256/b64/kv32768/hq32hkv8/q4/contig", "fmha_decode_d256_sm90a", 1, 512},
      {"decode/d64/b8/kv131072/hq128hkv8/q4/contig", "fmha_decode_d64_wg_sm90a", 4, 256},
      {"decode/d64/b64/kv8192/hq128hkv8/q4/page64", "fmha_decode_d64_wg_sm90a", 1, 512},
      {"decode/d64/b1/kv131072/hq128hkv8/q4/page16", "fmha_decode_d64_wg_sm90a", 49, 392},
      {"decode/d64/b32/kv1024/hq128hkv8/q1/page16", "fmha_decode_d64_s3_sm90a", 1, 256},
      {"decode/d128/b64/kv131072/hq128hkv8/q1/page16", "fmha_decode_d128_sm90a", 9, 4608},
      {"decode/d128/b1/kv1024/hq128hkv8/q4/page16", "fmha_decode_d128_wg_sm90a", 8, 64},
      {"decode/d128/b8/kv8192/hq32hkv8/q1/contig", "fmha_decode_d128_sm90a", 2, 128},
  };
  check_recorded(cells, rec, 2);
  // The occupancy estimate decides plans: at half the shared memory per SM (a mutation of the
  // estimate) the d64 pages-of-16 cell (the wave model over SMs x resident CTAs) plans otherwise.
  ReplayedDecodePlan half;
  REQUIRE(replay_decode_plan(*find_cell(cells, rec[2].cell), 132, kReplaySmemPerSmBytes / 2, &half, &why));
  CHECK(half.per_sm < 3);
  CHECK(half.splits != rec[2].splits);
}

// e4m3 cells (the cell with kv_elem_bytes 1, as `ptxfmha decode-plans --cache e4m3` replays them)
// against the plans the bench recorded for `--ptxfmha_decode_variants=e4m3` on the H200,
// 2026-12-04 (bench/results/h200-2026-12-04-s15, r3 / r4 surveys: the replay agreed on all 522
// e4m3 cells they timed). A spread of the e4m3 rows, and the plans that session moved (32 rows:
// the per-m-tile rate; 64 rows: the _e4m3_wg rows by waves).
TEST_CASE("decode replay: e4m3 plans offline equal the plans recorded on the H200 (CPU)") {
  std::vector<Case> cells;
  std::string why;
  REQUIRE(decode_grid("full", &cells, &why));
  const std::vector<Recorded> rec = {
      {"decode/d128/b8/kv131072/hq32hkv8/q1/contig", "fmha_decode_d128_e4m3_sm90a", 4, 256},
      {"decode/d128/b32/kv8192/hq32hkv32/q1/page64", "fmha_decode_d128_e4m3_sm90a", 1, 1024},
      {"decode/d256/b8/kv131072/hq32hkv32/q4/page64", "fmha_decode_d256_e4m3_sm90a", 17, 4352},
      {"decode/d256/b32/kv32768/hq32hkv32/q1/contig", "fmha_decode_d256_e4m3_sm90a", 1, 1024},
      {"decode/d64/b32/kv8192/hq64hkv8/q1/contig", "fmha_decode_d64_e4m3_h2_sm90a", 2, 256},
      {"decode/d64/b128/kv8192/hq128hkv8/q1/page64", "fmha_decode_d64_e4m3_h2_sm90a", 1, 512},
      {"decode/d64/b32/kv131072/hq32hkv8/q4/page16", "fmha_decode_d64_e4m3_sm90a", 2, 512},
      {"decode/d64/b8/kv8192/hq64hkv8/q4/page16", "fmha_decode_d64_e4m3_sm90a", 8, 512},
      {"decode/d64/b8/kv32768/hq64hkv8/q4/contig", "fmha_decode_d64_e4m3_sm90a", 8, 512},
      {"decode/d64/b32/kv32768/hq64hkv8/q4/contig", "fmha_decode_d64_e4m3_sm90a", 2, 512},
      {"decode/d64/b8/kv32768/hq128hkv8/q4/page16", "fmha_decode_d64_e4m3_wg_sm90a", 6, 384},
      {"decode/d64/b32/kv32768/hq128hkv8/q4/contig", "fmha_decode_d64_e4m3_wg_sm90a", 3, 768},
      {"decode/d64/b128/kv131072/hq128hkv8/q4/contig", "fmha_decode_d64_e4m3_wg_sm90a", 5, 5120},
  };
  check_recorded(cells, rec, 1);
}

TEST_CASE("decode replay: resident CTAs per SM, and what it refuses (CPU)") {
  // 228 KiB per SM, 1 KiB reserved per CTA, <= 2048 threads.
  CHECK(replay_ctas_per_sm(75 * 1024, 160, kReplaySmemPerSmBytes) == 3);
  CHECK(replay_ctas_per_sm(75 * 1024 + 1, 160, kReplaySmemPerSmBytes) == 2);
  CHECK(replay_ctas_per_sm(0, 1024, kReplaySmemPerSmBytes) == 2);
  CHECK(replay_ctas_per_sm(0, 32, kReplaySmemPerSmBytes) == 32);
  CHECK(replay_ctas_per_sm(228 * 1024, 128, kReplaySmemPerSmBytes) == 0);
  std::vector<Case> cells;
  std::string why;
  REQUIRE(decode_grid("full", &cells, &why));
  Case variant = cells.front();
  variant.variant = "s8";
  ReplayedDecodePlan p;
  CHECK_FALSE(replay_decode_plan(variant, 132, kReplaySmemPerSmBytes, &p, &why));
  CHECK(why.find("library's plan") != std::string::npos);
}
