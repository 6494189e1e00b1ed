// CPU model of the backward main kernel's visit and masking arithmetic, against the
// bottom-right causal definition (key j visible to query i when j <= i + seqlen_k - seqlen_q)
// and the key range, for every main row of the kernel table (each (block_m, block_n) and split
// of ptx/body/sm90_bwd/layout.ptxh) over many (seqlen_q, seqlen_k):
//   SETUP (setup.ptxh)          m_first = causal ? max(n0 - shift, 0) >> LOG2_BLOCK_M : 0,
//                               in the kernel's u32 / s32 arithmetic; the CTA visits m-blocks
//                               m_first .. num_m_blocks - 1
//   MASK_LIMITS (consumer.ptxh) p_mask (keys past seqlen_k, or the CTA's last key past the
//                               diagonal of the m-block's first query) and per thread the
//                               limits rel0 / rel1 of its key rows (-1 when not causal,
//                               MASK_ALL for a key >= seqlen_k)
//   MASK_TILE (elementwise.ptxh) S register (column c, row r) -> -inf when c < rel_r
//   thread -> element           WG_SHARE (config.ptxh): key rows kt_row + 16 warp + lane / 4
//                               (+ 8), queries q_off + 2 (lane % 4) + 8 i + {0, 1}
// Checked: the threads of a CTA cover its BLOCK_N x BLOCK_M tile exactly once; every visible
// (query, key) pair is computed (visited, not masked) exactly once; no invisible pair of real
// rows and keys is computed; every visited key >= seqlen_k is masked (its K is TMA's zero
// fill: unmasked, P = exp2(nlse) could overflow). Rows >= seqlen_q may stay unmasked (their
// -LSE*log2e is -inf: P = 0). Mutations of m_first, the limits and p_mask must be caught.
// (The run of 2026-12-01 flagged dQ on rows with few keys; this model shows the arithmetic
// visits and masks exactly the definition: the cause was the reference, see
// test_cpu_bwd_numerics.cpp.)
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gpu_util.h"
#include "kernel_lookup.h"
#include "../ptx/manifest/sm90_bwd.h"

namespace {

enum class MaskMutation { None, MFirstFromLastKey, RelOffByOne, NoKeyRangeMask, DiagonalTestFromLastQuery };

struct MaskModelResult {
  long long computed_invisible = 0, visible_missed = 0, visible_twice = 0, pad_key_unmasked = 0;
  long long tile_cover_errors = 0;
  std::string first;
  bool ok() const {
    return computed_invisible == 0 && visible_missed == 0 && visible_twice == 0 && pad_key_unmasked == 0 &&
           tile_cover_errors == 0;
  }
};

int log2_of(int x) {
  int l = 0;
  while ((1 << l) < x) ++l;
  return l;
}

// The ext kernel's window (ptx/body/sm90_bwd/features.ptxh), sides as the host normalises
// them (canonical_window; INT32_MAX unbounded, causal = right 0).
struct ExtWindow {
  bool on = false;
  int32_t wl = INT32_MAX, wr = INT32_MAX;
};
int32_t sat32(int64_t x) { return int32_t(std::max<int64_t>(INT32_MIN, std::min<int64_t>(INT32_MAX, x))); }

// One problem (seqlen_q, seqlen_k, causal) through the model of row (bm, bn); with `ext` on,
// through SETUP_RANGE_EXT, MASK_LIMITS_EXT and MASK_TILE_EXT instead (causal unused: the
// window says it), and the ALiBi distance c - rel_r of every computed element is checked to be
// query + shift - key.
MaskModelResult model(int bm, int bn, int sq, int sk, bool causal, MaskMutation mut = MaskMutation::None,
                      ExtWindow ext = ExtWindow()) {
  MaskModelResult res;
  const bool key_split = SM90_BWD_KEY_SPLIT(bn);
  const int s_n = key_split ? bm : bm / 2;  // queries of a warpgroup's S^T tile (config.ptxh)
  const uint32_t seqlen_q = uint32_t(sq), seqlen_k = uint32_t(sk);
  const uint32_t shift = seqlen_k - seqlen_q;  // sub.u32
  const int nm = (sq + bm - 1) / bm, nn = (sk + bn - 1) / bn;
  const int32_t mask_all = 0x3FFFFFFF;
  std::vector<int> computed(std::size_t(sq) * sk, 0);
  auto note = [&](const std::string& s) {
    if (res.first.empty()) res.first = s;
  };
  for (int n = 0; n < nn; ++n) {
    const uint32_t n0 = uint32_t(n) << log2_of(bn);
    uint32_t m_first = 0, m_end = uint32_t(nm);
    if (ext.on) {  // SETUP_RANGE_EXT
      const uint32_t first = mut == MaskMutation::MFirstFromLastKey ? n0 + uint32_t(bn) - 1 : n0;
      m_first = uint32_t(std::max(sat32(int64_t(int32_t(first - shift)) - ext.wr), 0)) >> log2_of(bm);
      const int32_t t0 = sat32(int64_t(int32_t(n0 + uint32_t(bn) - 1 - shift)) + ext.wl);
      m_end = t0 < 0 ? 0u : uint32_t(std::min((t0 >> log2_of(bm)) + 1, nm));
    } else if (causal) {
      uint32_t t0 = (mut == MaskMutation::MFirstFromLastKey ? n0 + uint32_t(bn) - 1 : n0) - shift;
      t0 = uint32_t(std::max(int32_t(t0), int32_t(0)));  // max.s32
      m_first = t0 >> log2_of(bm);
    }
    for (uint32_t m = m_first; m < m_end; ++m) {
      const uint32_t m0 = m << log2_of(bm);
      bool p_mask = int32_t(n0 + uint32_t(bn)) > int32_t(seqlen_k);
      if (mut == MaskMutation::NoKeyRangeMask) p_mask = false;
      const uint32_t diag_query = mut == MaskMutation::DiagonalTestFromLastQuery ? m0 + uint32_t(bm) - 1 : m0;
      if (ext.on) {  // MASK_LIMITS_EXT: the band's right and left edges
        p_mask = p_mask || sat32(int64_t(int32_t(n0 + uint32_t(bn) - 1 - shift)) - ext.wr) > int32_t(diag_query);
        p_mask = p_mask || sat32(int64_t(int32_t(n0 - shift)) + ext.wl) < int32_t(m0 + uint32_t(bm) - 1);
      } else {
        p_mask = p_mask || (causal && int32_t(n0 + uint32_t(bn) - 1 - shift) > int32_t(diag_query));
      }
      std::vector<int> cover(std::size_t(bn) * bm, 0);
      for (int wg = 0; wg < 2; ++wg)
        for (int wi = 0; wi < 4; ++wi)
          for (int lane = 0; lane < 32; ++lane) {
            const uint32_t tq = uint32_t(lane) >> 2, col_lane = uint32_t(lane & 3) << 1;
            const uint32_t kt_row = key_split ? uint32_t(wg) << 6 : 0, q_off = key_split ? 0 : uint32_t(wg) * 32;
            const uint32_t key_row0 = kt_row + (uint32_t(wi) << 4) + tq;
            int32_t rel[2] = {0, 0}, lo[2] = {INT32_MIN, INT32_MIN}, hi[2] = {INT32_MAX, INT32_MAX};
            if (ext.on) {  // MASK_LIMITS_EXT (rel always), MASK_TILE_EXT (lo, hi)
              const uint32_t t0 = m0 + q_off + col_lane;
              const uint32_t key0 = n0 + key_row0, key1 = key0 + 8;
              uint32_t r0 = key0 - shift - t0;
              if (mut == MaskMutation::RelOffByOne) r0 += 1;
              rel[0] = int32_t(r0);
              rel[1] = int32_t(r0 + 8);
              for (int r = 0; r < 2; ++r) {
                lo[r] = sat32(int64_t(rel[r]) - ext.wr);
                hi[r] = sat32(int64_t(rel[r]) + ext.wl);
              }
              if (int32_t(key0) >= int32_t(seqlen_k)) lo[0] = mask_all;
              if (int32_t(key1) >= int32_t(seqlen_k)) lo[1] = mask_all;
            } else if (p_mask) {
              const uint32_t t0 = m0 + q_off + col_lane;
              const uint32_t key0 = n0 + key_row0, key1 = key0 + 8;
              uint32_t r0 = key0 - shift - t0;
              if (mut == MaskMutation::RelOffByOne) r0 += 1;
              rel[0] = causal ? int32_t(r0) : -1;
              rel[1] = causal ? int32_t(r0 + 8) : -1;
              if (int32_t(key0) >= int32_t(seqlen_k)) rel[0] = mask_all;
              if (int32_t(key1) >= int32_t(seqlen_k)) rel[1] = mask_all;
            }
            for (int r = 0; r < 2; ++r)
              for (int i = 0; i < s_n / 8; ++i)
                for (int e = 0; e < 2; ++e) {
                  const int c = 8 * i + e;  // the register's column in the thread's tile
                  const int krow = int(key_row0) + 8 * r, qcol = int(q_off + col_lane) + c;
                  if (krow < bn && qcol < bm) ++cover[std::size_t(krow) * bm + qcol];
                  const bool masked = ext.on ? p_mask && (c < lo[r] || c > hi[r]) : p_mask && c < rel[r];
                  const long long key = int64_t(n0) + krow, query = int64_t(m0) + qcol;
                  if (ext.on && !masked && key < sk && query < sq && int64_t(c) - rel[r] != query + (int64_t(sk) - sq) - key) {
                    ++res.computed_invisible;  // ALiBi would use a wrong distance
                    note("ALiBi distance of (query " + std::to_string(query) + ", key " + std::to_string(key) + ") wrong");
                  }
                  if (key >= sk) {
                    if (!masked) {
                      ++res.pad_key_unmasked;
                      note("key " + std::to_string(key) + " >= seqlen_k computed (query " + std::to_string(query) + ")");
                    }
                    continue;
                  }
                  if (query >= sq || masked) continue;
                  ++computed[std::size_t(query) * sk + key];
                }
            }
      for (int x : cover)
        if (x != 1) ++res.tile_cover_errors;
    }
  }
  for (int i = 0; i < sq; ++i)
    for (int j = 0; j < sk; ++j) {
      const int64_t dg = int64_t(i) + sk - sq;  // the row's diagonal
      const bool visible = ext.on ? (ext.wr == INT32_MAX || j <= dg + ext.wr) && (ext.wl == INT32_MAX || j >= dg - ext.wl)
                                  : !causal || int64_t(j) <= dg;
      const int c = computed[std::size_t(i) * sk + j];
      if (visible && c == 0) {
        ++res.visible_missed;
        note("visible (query " + std::to_string(i) + ", key " + std::to_string(j) + ") never computed");
      }
      if (c > 1) ++res.visible_twice;
      if (!visible && c > 0) {
        ++res.computed_invisible;
        note("invisible (query " + std::to_string(i) + ", key " + std::to_string(j) + ") computed");
      }
    }
  return res;
}

const int kLens[] = {1, 2, 17, 63, 64, 65, 127, 128, 129, 200, 255, 256, 257, 383, 700};

std::vector<const ptxfmha::KernelInfo*> main_rows() {
  std::vector<const ptxfmha::KernelInfo*> rows;
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels())
    if (r->kind == ptxfmha::KernelKind::Bwd) rows.push_back(r);
  return rows;
}

}  // namespace

TEST_CASE("bwd masking model: every main row visits and masks exactly the bottom-right causal pairs") {
  const auto rows = main_rows();
  REQUIRE(rows.size() >= 3);
  long long problems = 0;
  for (const ptxfmha::KernelInfo* row : rows) {
    const std::string name = row->name;
    CAPTURE(name);
    for (int causal = 0; causal <= 1; ++causal)
      for (int sq : kLens)
        for (int sk : kLens) {
          const MaskModelResult r = model(row->block_m, row->block_n, sq, sk, causal != 0);
          ++problems;
          CHECK_MESSAGE(r.ok(), name << " Sq=" << sq << " Sk=" << sk << " causal=" << causal << ": "
                                     << r.visible_missed << " visible pairs missed, " << r.computed_invisible
                                     << " invisible computed, " << r.visible_twice << " twice, " << r.pad_key_unmasked
                                     << " keys >= seqlen_k unmasked, " << r.tile_cover_errors
                                     << " tile elements not covered once; first: " << r.first);
        }
  }
  MESSAGE("bwd masking model: " << rows.size() << " main rows x " << problems / static_cast<long long>(rows.size())
                                << " problems each");
}

TEST_CASE("bwd masking model: mutations of m_first, the limits and p_mask are caught") {
  const auto rows = main_rows();
  struct Mut {
    MaskMutation m;
    const char* what;
  };
  const Mut muts[] = {
      {MaskMutation::MFirstFromLastKey, "m_first from the CTA's last key instead of its first"},
      {MaskMutation::RelOffByOne, "mask limit one column off"},
      {MaskMutation::NoKeyRangeMask, "p_mask without the keys-past-seqlen_k clause"},
      {MaskMutation::DiagonalTestFromLastQuery, "diagonal test against the m-block's last query"},
  };
  for (const ptxfmha::KernelInfo* row : rows) {
    const std::string name = row->name;
    CAPTURE(name);
    for (const Mut& mu : muts) {
      bool caught = false;
      for (int causal = 0; causal <= 1 && !caught; ++causal)
        for (int sq : kLens)
          for (int sk : kLens)
            if (!caught && !model(row->block_m, row->block_n, sq, sk, causal != 0, mu.m).ok()) caught = true;
      CHECK_MESSAGE(caught, name << ": mutation not caught: " << std::string(mu.what));
    }
  }
}

namespace {
// canonical_window (attn.cpp) as the host applies it, then INT32_MAX for an unbounded side.
ExtWindow ext_window(int sq, int sk, int wl, int wr) {
  ExtWindow w;
  w.on = true;
  if (wl >= 0 && wl < sk - 1) w.wl = wl;
  if (wr == 0 || (wr >= 1 && wr < sq - 1)) w.wr = wr;
  return w;
}
const int kExtLens[] = {1, 2, 63, 64, 65, 129, 200, 257, 383};
const std::pair<int, int> kExtWindows[] = {{-1, 0}, {-1, -1}, {0, 0}, {16, 0}, {100, -1}, {-1, 5}, {3, 7}, {200, 64}};
}  // namespace

TEST_CASE("bwd masking model (ext): windows visit and mask exactly the band, ALiBi distances right") {
  long long problems = 0;
  for (const ptxfmha::KernelInfo* row : main_rows()) {
    const std::string name = row->name;
    CAPTURE(name);
    for (int sq : kExtLens)
      for (int sk : kExtLens)
        for (const auto& w : kExtWindows) {
          const MaskModelResult r = model(row->block_m, row->block_n, sq, sk, false, MaskMutation::None,
                                          ext_window(sq, sk, w.first, w.second));
          ++problems;
          CHECK_MESSAGE(r.ok(), name << " Sq=" << sq << " Sk=" << sk << " window=(" << w.first << "," << w.second
                                     << "): " << r.visible_missed << " visible missed, " << r.computed_invisible
                                     << " invisible computed (or ALiBi distance wrong), " << r.visible_twice << " twice, "
                                     << r.pad_key_unmasked << " keys >= seqlen_k unmasked; first: " << r.first);
        }
  }
  MESSAGE("bwd masking model (ext): " << problems << " problems");
}

TEST_CASE("bwd masking model (ext): mutations of m_first, the limits and p_mask are caught") {
  const MaskMutation muts[] = {MaskMutation::MFirstFromLastKey, MaskMutation::RelOffByOne,
                               MaskMutation::NoKeyRangeMask, MaskMutation::DiagonalTestFromLastQuery};
  for (const ptxfmha::KernelInfo* row : main_rows())
    for (MaskMutation mu : muts) {
      bool caught = false;
      for (int sq : kExtLens)
        for (int sk : kExtLens)
          for (const auto& w : kExtWindows)
            if (!caught && !model(row->block_m, row->block_n, sq, sk, false, mu, ext_window(sq, sk, w.first, w.second)).ok())
              caught = true;
      CHECK_MESSAGE(caught, row->name << ": ext mutation " << int(mu) << " not caught");
    }
}
