// The decode launch plan, pure (no driver call): split count, split sizes, workspace layout
// and grids. See decode.h (choose_num_splits, plan_decode_splits, plan_decode).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "decode.h"
#include "decode_rows.h"

namespace ptxfmha {

namespace {

constexpr uint64_t kWsAlignBytes = 256;     // alignment of the partial-O region

int log2_int(int64_t x) {
  int s = 0;
  while ((int64_t(1) << s) < x) ++s;
  return s;
}

// The split count s in 1..min(max_s, kv_tiles) with the smallest cost(s), the smallest s on
// ties; only counts with no empty trailing split (s == ceil(kv_tiles / ceil(kv_tiles / s))).
template <class Cost>
int cheapest_split_count(int64_t kv_tiles, int64_t max_s, Cost&& cost) {
  if (kv_tiles < 1) return 1;
  if (max_s > kv_tiles) max_s = kv_tiles;
  int best = 1;
  double best_cost = std::numeric_limits<double>::infinity();
  for (int64_t s = 1; s <= max_s; ++s) {
    const int64_t tps = (kv_tiles + s - 1) / s;
    if ((kv_tiles + tps - 1) / tps != s) continue;  // would leave an empty split
    const double c = cost(s);
    if (c < best_cost - 1e-9) {
      best_cost = c;
      best = static_cast<int>(s);
    }
  }
  return best;
}

}  // namespace

double decode_split_cost(int64_t units, int64_t kv_tiles, int64_t slots, int64_t s, double merge_tiles) {
  constexpr double kCtaOverheadTiles = 3.0;  // prologue latency + epilogue, in tile times
  const int64_t tps = (kv_tiles + s - 1) / s;
  const int64_t waves = (units * s + slots - 1) / slots;
  return double(waves) * (double(tps) + kCtaOverheadTiles) + (s > 1 ? merge_tiles : 0.0);
}

int best_num_splits(int64_t units, int64_t kv_tiles, int64_t slots, int64_t max_s, double merge_tiles) {
  if (units < 1) units = 1;
  if (slots < 1) slots = 1;
  return cheapest_split_count(kv_tiles, max_s, [&](int64_t s) {
    return decode_split_cost(units, kv_tiles, slots, s, merge_tiles);
  });
}

double decode_bw_partials_tiles(int64_t out_rows, int64_t sms, int kv_bytes) {
  if (sms < 1) sms = 1;
  if (kv_bytes < 1) kv_bytes = 1;
  // Per split: rows x D x 4 bytes of partial O written and read back (8 rows x D), against a
  // tile time's sms x (64 keys x D x kv_bytes x 2) bytes at the HBM rate: D cancels.
  return double(out_rows) * 8.0 / (double(sms) * 128.0 * double(kv_bytes));
}

double decode_bw_split_cost(int64_t units, int64_t kv_tiles, int64_t sms, int64_t per_sm, int64_t s,
                            double cta_rate, double partials_tiles) {
  if (units < 1) units = 1;
  if (sms < 1) sms = 1;
  if (per_sm < 1) per_sm = 1;
  const int64_t n = units * s;
  const double t = double((kv_tiles + s - 1) / s);
  const int64_t lo = n / sms;                      // CTAs of the low SMs
  const int64_t n_hi = n - lo * sms;               // SMs holding lo + 1 (0: all hold lo)
  const int64_t hi = n_hi > 0 ? lo + 1 : lo;
  // What an SM holding k CTAs can pull: its CTAs' own rates, at most the SM cap, or one CTA's
  // rate where that is above the cap (a head-dim-256 CTA, one per SM: kDecodeCtaRateD256).
  const double sm_cap = std::max(kDecodeSmRateCap, cta_rate);
  auto demand = [&](int64_t k) {
    const double own = cta_rate > 0.0 ? double(std::min(k, per_sm)) * cta_rate : kDecodeSmRateCap;
    return std::min(sm_cap, own);
  };
  double time = 0.0;
  if (n_hi == 0) {                                 // every SM holds lo CTAs
    time += double(lo) * t / std::min(1.0, demand(lo));
  } else if (lo == 0) {                            // n_hi SMs hold one CTA each
    time += t / std::min(demand(1), double(sms) / double(n_hi));
  } else {
    // Phase 1: every SM busy; the low SMs get what they can pull, at most an even share, the
    // high SMs the rest (at most their own demand). Phase 2: the high SMs finish alone.
    const double d_lo = demand(lo), d_hi = demand(hi);
    const double r_lo = std::min(1.0, d_lo);
    const double left_for_hi = (double(sms) - double(sms - n_hi) * d_lo) / double(n_hi);
    const double r_hi = d_lo >= 1.0 ? 1.0 : std::min(d_hi, left_for_hi);
    const double t1 = double(lo) * t / r_lo;
    const double left = double(hi) * t - r_hi * t1;  // tiles of a high SM after phase 1
    time += left > 0.0 ? t1 + left / std::min(d_hi, double(sms) / double(n_hi)) : double(hi) * t / r_hi;
  }
  time += kDecodeCtaTiles * double(hi);
  if (s > 1) time += kDecodeBwMergeTiles + double(s) * partials_tiles;
  if (per_sm > 1 && n > sms * per_sm) time += kDecodeTailTiles * t;
  return time;
}

int choose_num_splits_bw(int64_t units, int64_t kv_tiles, int64_t sms, int64_t per_sm, double cta_rate,
                         double partials_tiles, int64_t max_splits) {
  return cheapest_split_count(kv_tiles, max_splits, [&](int64_t s) {
    return decode_bw_split_cost(units, kv_tiles, sms, per_sm, s, cta_rate, partials_tiles);
  });
}

namespace {
// Pages of fewer keys than a tile: a tile is several TMA boxes (the rule of both functions below).
bool small_pages(const ptxfmha_decode_params& p) {
  return p.block_table != nullptr && p.page_size < kDecodeBlockN;
}
}  // namespace

bool decode_plans_by_bandwidth(const ptxfmha_decode_params& p, int kv_bytes, bool wg_loop) {
  if (kv_bytes == 1) return p.head_dim == 64 && !wg_loop;
  return !small_pages(p) || (!wg_loop && p.head_dim <= 128);
}

double decode_cta_rate(const ptxfmha_decode_params& p, int kv_bytes, bool wg_loop) {
  if (kv_bytes == 1) {
    const double rate = small_pages(p) ? kDecodeCtaRateE4m3SmallPages : kDecodeCtaRateE4m3;
    // the mma.sync row: each m-tile's warps convert the tile's K and V themselves
    return wg_loop ? rate : std::min(rate, kDecodeCtaRateE4m3 / double(decode_cta_m_tiles(p)));
  }
  if (wg_loop)
    return p.head_dim <= 64 ? kDecodeCtaRateWgD64 : p.head_dim <= 128 ? kDecodeCtaRateWgD128 : kDecodeCtaRateWgD256;
  if (small_pages(p)) return kDecodeCtaRateSmallPages;
  const int m_tiles = decode_cta_m_tiles(p);
  if (m_tiles >= 2)  // the m-tiles' 16-key sub-blocks per warp and tile, at most the SM cap
    return std::min(kDecodeSmRateCap, kDecodeCtaRateRowTile * (double(p.head_dim) / 64.0) / double(m_tiles));
  if (p.head_dim <= 64) return kDecodeCtaRateD64;
  return p.head_dim > 128 ? kDecodeCtaRateD256 : 0.0;  // d128: no limit below the SM cap
}

double decode_combine_tiles(int kv_bytes, bool wg_loop) {
  return kv_bytes == 1 && wg_loop ? kDecodeCombineTilesE4m3Wg : kDecodeCombineTiles;
}

int64_t decode_max_splits(int64_t kv_tiles, int kv_bytes) {
  if (kv_bytes != 2) return kDecodeMaxSplits;
  return std::min<int64_t>(kDecodeMaxSplits, std::max<int64_t>(1, kv_tiles / kDecodeMinSplitTiles));
}

namespace {
// The calls decode_rows_split_cap and decode_rows_split_floor shape: bf16, CTAs of >=
// kDecodeOneWaveRows packed rows, fewer units than SMs.
bool one_wave_rows(const ptxfmha_decode_params& p, int64_t units, int64_t sms, int kv_bytes) {
  return kv_bytes == 2 && decode_cta_rows(p) >= kDecodeOneWaveRows && units >= 1 && units < sms;
}
// Whether a CTA takes its tiles as whole TMA boxes: not cp.async (`cpasync`: the call runs the
// cp.async producer), and pages of >= 64 keys or a contiguous cache.
bool whole_tile_boxes(const ptxfmha_decode_params& p, bool cpasync) { return !cpasync && !small_pages(p); }
// The splits of half the SMs where they are >= kDecodeHalfWaveMinSplits per unit, else 0.
int64_t half_wave_splits(int64_t units, int64_t sms) {
  const int64_t half_wave = sms / (2 * units);
  return half_wave >= kDecodeHalfWaveMinSplits ? half_wave : 0;
}
}  // namespace

int64_t decode_rows_split_cap(const ptxfmha_decode_params& p, int64_t units, int64_t sms, int kv_bytes,
                              int64_t kv_tiles, bool cpasync, bool wg_loop) {
  if (!one_wave_rows(p, units, sms, kv_bytes)) return kDecodeMaxSplits;
  const int64_t half_wave = half_wave_splits(units, sms);
  if (p.head_dim > 128) {
    // d256 CTAs that take whole-tile TMA boxes (not cp.async, pages of >= 64 keys): half the SMs.
    return whole_tile_boxes(p, cpasync) && half_wave > 0 ? half_wave : kDecodeMaxSplits;
  }
  // d128 _wg CTAs on whole-tile TMA boxes over a short cache: half the SMs too.
  if (p.head_dim > 64 && wg_loop && whole_tile_boxes(p, cpasync) && kv_tiles <= kDecodeHalfWaveWgD128MaxTiles &&
      half_wave > 0)
    return half_wave;
  if (p.head_dim <= 64 && kv_tiles > kDecodeOneWaveMaxTiles) return kDecodeMaxSplits;
  const int64_t one_per_sm = sms / units;
  // d64 CTAs that copy a tile in small pieces: cp.async, or a TMA box per page of < 64 keys.
  const bool small_copies = small_pages(p) || cpasync;
  if (p.head_dim <= 64 && small_copies && one_per_sm <= kDecodeTwoPerSmMaxSplits / 2 &&
      kv_tiles >= kDecodeTwoPerSmMinTiles)
    return 2 * one_per_sm;
  return one_per_sm;
}

int64_t decode_rows_split_floor(const ptxfmha_decode_params& p, int64_t units, int64_t sms, int kv_bytes,
                                int64_t kv_tiles, bool cpasync) {
  if (kv_bytes != 2 || p.head_dim <= 128 || units < 1 || units >= sms || half_wave_splits(units, sms) != 0) return 1;
  if (one_wave_rows(p, units, sms, kv_bytes)) return kv_tiles >= kDecodeOnePerSmMinTiles ? sms / units : 1;
  // one m-tile on whole-tile TMA boxes (pages of >= 64 keys, or a contiguous cache the cp.async
  // producer does not take)
  return decode_cta_m_tiles(p) == 1 && whole_tile_boxes(p, cpasync) && kv_tiles >= kDecodeOneMtileFloorMinTiles
             ? sms / units
             : 1;
}

bool decode_cpasync_cache(const ptxfmha_decode_params& p, int kv_bytes) {
  return p.block_table == nullptr && kv_bytes == 2 && p.k_batch_stride == p.v_batch_stride &&
         p.k_seq_stride == p.v_seq_stride && p.k_head_stride == p.v_head_stride && p.k_seq_stride > 0 &&
         p.k_head_stride > 0 && p.k_seq_stride * 2 < (int64_t(1) << 32) && p.k_head_stride * 2 < (int64_t(1) << 32);
}

int choose_num_splits(int64_t units, int64_t kv_tiles, int64_t slots, int64_t max_splits) {
  return best_num_splits(units, kv_tiles, slots, max_splits, kDecodeCombineTiles);
}

int choose_cluster_splits(int64_t units, int64_t kv_tiles, int64_t slots, int ws_splits, int cluster_max) {
  if (ws_splits <= 1 || cluster_max < 2) return 0;
  if (ws_splits <= cluster_max) return ws_splits;
  if (units < 1) units = 1;
  if (slots < 1) slots = 1;
  const int s = best_num_splits(units, kv_tiles, slots, cluster_max, kDecodeClusterMergeTiles);
  if (s < 2) return 0;
  const double cl = decode_split_cost(units, kv_tiles, slots, s, kDecodeClusterMergeTiles);
  const double ws = decode_split_cost(units, kv_tiles, slots, ws_splits, kDecodeCombineTiles);
  return cl <= ws + 1e-9 ? s : 0;
}

int choose_num_splits_min_waves(int64_t units, int64_t kv_tiles, int64_t slots, int min_waves) {
  if (units < 1) units = 1;
  if (slots < 1) slots = 1;
  if (kv_tiles < 1) return 1;
  const int base = choose_num_splits(units, kv_tiles, slots);
  const int64_t max_s = kv_tiles < kDecodeMaxSplits ? kv_tiles : kDecodeMaxSplits;
  int64_t pick = 1;
  for (int64_t s = 1; s <= max_s; ++s) {
    const int64_t tps = (kv_tiles + s - 1) / s;
    if ((kv_tiles + tps - 1) / tps != s) continue;  // would leave an empty split
    pick = s;
    if (units * s >= int64_t(min_waves) * slots) break;
  }
  return static_cast<int>(pick > base ? pick : base);
}

DecodePlanOptions decode_row_plan_options(const KernelInfo* row, int64_t sms, int kv_bytes) {
  DecodePlanOptions o;
  o.sms = sms;
  o.kv_bytes = kv_bytes;
  o.heads_per_cta = decode_row_heads(row);
  o.wg_loop = decode_row_wg(row);
  o.cpasync_row = decode_row_cpasync(row);
  return o;
}

int64_t decode_kv_tiles(const ptxfmha_decode_params& p, const DecodePlanOptions& o) {
  int64_t keys = p.max_seqlen_k;
  if (o.band_keys > 0 && o.band_keys < keys) keys = o.band_keys;
  return (keys + kDecodeBlockN - 1) / kDecodeBlockN;
}

int64_t decode_packed_rows(const ptxfmha_decode_params& p) {
  return int64_t(p.seqlen_q) * (p.heads_q / p.heads_kv);
}

int64_t decode_cta_rows(const ptxfmha_decode_params& p) {
  return std::min(decode_packed_rows(p), int64_t(kDecodeRowsPerCta));
}

namespace {
int decode_m_groups(const ptxfmha_decode_params& p) {
  return static_cast<int>((decode_packed_rows(p) + kDecodeRowsPerCta - 1) / kDecodeRowsPerCta);
}
}  // namespace

int decode_cta_m_tiles(const ptxfmha_decode_params& p) { return static_cast<int>((decode_cta_rows(p) + 15) / 16); }

int64_t decode_split_units(const ptxfmha_decode_params& p, int heads_per_cta) {
  const int hpc = heads_per_cta > 1 ? heads_per_cta : 1;
  return int64_t(p.batch) * (p.heads_kv / hpc) * decode_m_groups(p);
}

bool decode_prefers_wide_row(int64_t units, int64_t sms) { return sms > 0 && units >= sms; }

bool decode_prefers_two_heads(int64_t units, int64_t sms, bool small_pages) {
  if (sms <= 0) return true;
  return small_pages ? units >= kDecodeTwoHeadsSmallPagesWaves * sms : units * kDecodeTwoHeadsSmsPerCta >= sms;
}

bool decode_prefers_two_heads_bf16(int head_dim, int64_t units, int64_t sms, bool paged, bool small_pages,
                                   int64_t max_keys) {
  if (small_pages || sms <= 0) return false;
  if (units < sms)  // d64: a grid short of a wave by at most sms / 32 SMs, over 8k-32k keys
    return head_dim == 64 && units * kDecodeTwoHeadsD64NearWaveDiv >= sms * (kDecodeTwoHeadsD64NearWaveDiv - 1) &&
           max_keys >= kDecodeTwoHeadsD64NearMinKeys && max_keys <= kDecodeTwoHeadsD64NearMaxKeys;
  return head_dim == 64 || (head_dim == 128 && paged && max_keys >= kDecodeTwoHeadsD128MinKeys &&
                            max_keys <= kDecodeTwoHeadsD128MaxKeys);
}

const KernelInfo* decode_grid_row(int sm, int64_t sms, const KernelInfo* row,
                                  const ptxfmha_decode_params& p, bool may_cluster) {
  int hpc = decode_row_heads(row);
  const DecodeRowFacts* rf = decode_row_facts(row);
  if (hpc == 1 && !may_cluster && rf != nullptr && rf->kv_bytes == 2 && rf->features == 0 && rf->wg == 0 &&
      p.heads_kv > 0 &&
      decode_prefers_two_heads_bf16(row->head_dim, decode_split_units(p, 2), sms, p.block_table != nullptr,
                                    small_pages(p), p.max_seqlen_k))
    if (const KernelInfo* two = find_decode_two_heads(sm, row, p.heads_kv, decode_packed_rows(p)))
      return two;  // no wide twin for it
  if (hpc > 1 && (may_cluster || !decode_prefers_two_heads(decode_split_units(p, hpc), sms, small_pages(p)))) {
    const DecodeRowFacts* f = decode_row_facts(row);
    if (const KernelInfo* one = find_decode_split(sm, row->head_dim, f->kv_bytes, f->features != 0)) {
      row = one;  // find_decode_split without the call's heads: a one-head row
      hpc = 1;
    }
  }
  if (!decode_prefers_wide_row(decode_split_units(p, hpc), sms)) return row;
  const KernelInfo* wide = find_decode_wide(sm, row);
  return wide != nullptr ? wide : row;
}

// The combine kernel's grid: one CTA per combine_row.block_m output rows.
static unsigned combine_grid_of(const ptxfmha_decode_params& p, const KernelInfo& combine_row) {
  const int64_t rows_per_cta = combine_row.block_m;
  return static_cast<unsigned>((decode_out_rows(p) + rows_per_cta - 1) / rows_per_cta);
}

// The workspace of num_splits partials per output row: their LSEs, then (aligned) their O.
static void plan_partials(const ptxfmha_decode_params& p, DecodePlan* plan) {
  const uint64_t partials = uint64_t(decode_out_rows(p)) * uint64_t(plan->num_splits);
  const uint64_t lse_bytes = partials * sizeof(float);
  plan->ws_lse_offset = 0;
  plan->ws_o_offset = (lse_bytes + kWsAlignBytes - 1) / kWsAlignBytes * kWsAlignBytes;
  plan->workspace_bytes = plan->ws_o_offset + partials * uint64_t(p.head_dim) * sizeof(float);
}

// The splits' geometry (count, keys, boxes), no workspace: plan_decode_splits' and
// plan_decode_handout's common part.
static void plan_split_geometry(const ptxfmha_decode_params& p, int auto_splits, DecodePlan* plan,
                                const DecodePlanOptions& o) {
  plan->m_groups = decode_m_groups(p);
  const int64_t tiles = decode_kv_tiles(p, o);
  int64_t s = p.num_splits > 0 ? p.num_splits : auto_splits;
  if (s < 1) s = 1;
  if (s > tiles) s = tiles;
  const int64_t tps = (tiles + s - 1) / s;
  plan->num_splits = static_cast<int>((tiles + tps - 1) / tps);
  plan->split_keys = static_cast<int>(tps * kDecodeBlockN);
  if (p.block_table != nullptr) {
    const int ps = log2_int(p.page_size);
    plan->box_shift = ps < 6 ? ps : 6;
    plan->page_shift = ps;
  } else {
    plan->box_shift = decode_contig_box_shift();
    plan->page_shift = 0;
  }
}

void plan_decode_splits(const ptxfmha_decode_params& p, int auto_splits, DecodePlan* plan,
                        const DecodePlanOptions& o) {
  plan_split_geometry(p, auto_splits, plan, o);
  plan->ws_lse_offset = 0;
  plan->ws_o_offset = 0;
  plan->workspace_bytes = 0;
  if (plan->num_splits > 1) plan_partials(p, plan);
}

int decode_ho_chunks_per_cta() {
  const char* e = std::getenv("PTXFMHA_DECODE_HO_CHUNKS");
  if (e == nullptr) return kDecodeHoChunksPerCta;
  const int v = std::atoi(e);
  return v >= 1 && v <= 64 ? v : kDecodeHoChunksPerCta;
}

void plan_decode_handout(const ptxfmha_decode_params& p, int chunks_per_cta, const KernelInfo& combine_row,
                         DecodePlan* plan, const DecodePlanOptions& o) {
  const int ctas = plan->num_splits;
  ptxfmha_decode_params q = p;
  q.num_splits = 0;  // the chunks, from the CTAs' count
  plan_split_geometry(q, ctas * (chunks_per_cta < 1 ? 1 : chunks_per_cta), plan, o);
  plan->ho_ctas = ctas < plan->num_splits ? ctas : plan->num_splits;
  plan->cluster = 0;
  plan->split_grid[1] = static_cast<unsigned>(plan->ho_ctas);
  plan_partials(p, plan);  // even one chunk: its partial
  plan->ws_counter_offset = (plan->workspace_bytes + kWsAlignBytes - 1) / kWsAlignBytes * kWsAlignBytes;
  plan->workspace_bytes = plan->ws_counter_offset + uint64_t(plan->ho_counters()) * sizeof(uint32_t);
  plan->combine_grid = combine_grid_of(p, combine_row);
}

int decode_model_splits(const ptxfmha_decode_params& p, int64_t units, int64_t tiles, int64_t slots,
                        const DecodePlanOptions& o, int64_t max_splits) {
  if (o.sms > 0 && decode_plans_by_bandwidth(p, o.kv_bytes, o.wg_loop))
    return choose_num_splits_bw(units, tiles, o.sms, slots / o.sms, decode_cta_rate(p, o.kv_bytes, o.wg_loop),
                                decode_bw_partials_tiles(decode_out_rows(p), o.sms, o.kv_bytes), max_splits);
  return best_num_splits(units, tiles, slots, max_splits, decode_combine_tiles(o.kv_bytes, o.wg_loop));
}

void plan_decode(const ptxfmha_decode_params& p, const KernelInfo& split_row,
                 const KernelInfo& combine_row, int64_t slots, DecodePlan* plan,
                 const DecodePlanOptions& o) {
  plan->split_row = &split_row;
  plan->combine_row = &combine_row;
  const int hpc = o.heads_per_cta > 1 ? o.heads_per_cta : 1;
  plan->heads_per_cta = hpc;
  const int64_t units = decode_split_units(p, hpc);
  const int64_t tiles = decode_kv_tiles(p, o);
  plan->cpasync = o.cpasync_row && !o.no_cpasync && decode_cpasync_cache(p, o.kv_bytes);
  int auto_splits = 1;
  if (o.min_waves > 0) {
    auto_splits = choose_num_splits_min_waves(units, tiles, slots, o.min_waves);
  } else {
    const int64_t max_splits = std::min(decode_max_splits(tiles, o.kv_bytes),
                                        decode_rows_split_cap(p, units, o.sms, o.kv_bytes, tiles, plan->cpasync,
                                                              o.wg_loop));
    auto_splits = decode_model_splits(p, units, tiles, slots, o, max_splits);
    const int64_t floor =
        std::min(max_splits, decode_rows_split_floor(p, units, o.sms, o.kv_bytes, tiles, plan->cpasync));
    if (auto_splits < floor) auto_splits = static_cast<int>(floor);
  }
  plan_decode_splits(p, auto_splits, plan, o);
  plan->cluster = 0;
  if (o.cluster_max >= 2 && o.cluster_policy != DecodeClusterPolicy::Off) {
    int s_cl = 0;
    if (p.num_splits > 0)
      s_cl = plan->num_splits >= 2 && plan->num_splits <= o.cluster_max ? plan->num_splits : 0;
    else if (o.cluster_policy == DecodeClusterPolicy::Force)
      s_cl = best_num_splits(units, tiles, slots, o.cluster_max, kDecodeClusterMergeTiles);
    else
      s_cl = choose_cluster_splits(units, tiles, slots, plan->num_splits, o.cluster_max);
    if (s_cl >= 2) {
      if (p.num_splits == 0) plan_decode_splits(p, s_cl, plan, o);
      if (plan->num_splits >= 2 && plan->num_splits <= o.cluster_max) {
        plan->cluster = plan->num_splits;
        plan->ws_lse_offset = 0;
        plan->ws_o_offset = 0;
        plan->workspace_bytes = 0;
      }
    }
  }
  plan->split_grid[0] = static_cast<unsigned>(p.heads_kv / hpc * plan->m_groups);
  plan->split_grid[1] = static_cast<unsigned>(plan->num_splits);
  plan->split_grid[2] = static_cast<unsigned>(p.batch);
  plan->combine_grid = 0;
  if (plan->num_splits > 1 && plan->cluster == 0) plan->combine_grid = combine_grid_of(p, combine_row);
}

}  // namespace ptxfmha
