// Protocol model of the new sm100a forward design (docs/sm100_fwd_design.md): a persistent CTA
// runs a list of work tiles; per work tile, Q tile(s) of 128 rows share each K/V tile.
//
// Roles (warps own their roles; setmaxnreg per warpgroup):
//   tma          warp 13 (9 at q_tiles 1), one lane: Q once per work tile, K_j and V_j through a
//                unified ring of kv_slots slots (ring order K_0, [Q_1,] V_0, K_1, V_1, ... at
//                q_tiles 2; K_0, K_1, V_0, K_2, V_1, ... at q_tiles 1)
//   mma          warp 12 (8), one lane: every tcgen05.mma and tcgen05.commit
//   softmax{t}   warpgroup t: S_t -> row max -> statistics -> P_t (TMEM, packed bf16x2)
//   correction   one warpgroup: lazy O rescale, then the epilogue (O / l, bf16, smem, TMA store)
//   (idle)       the rest of the MMA/TMA warpgroup: bar.sync 0 only, counted with the TMA warp
// MMA order per KV tile j (q_tiles 2): PV_0(j), S_0(j+1), PV_1(j), S_1(j+1): the S of one tile is
// queued behind the PV of the same tile, and the other tile's softmax runs meanwhile. When P
// aliases S (head dim 128: P_t over the upper half of S_t), S_t(j+1) is issued as two N/2 halves:
// the lower half right behind PV_t(j) (disjoint columns), the upper half after o_full[t] says
// PV_t(j) has read P_t(j) (the PTX ISA orders tcgen05.mma only for the same accumulator).
// At q_tiles 1 (head dim 256) S and P are double-buffered over KV tiles (b = j % 2), P apart from
// S; order S(0), S(1), PV(0), S(2), PV(1), ...
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "design.h"
#include "model.h"

namespace sm100_model {

struct TwoTileParams {
  int q_tiles = 2;
  bool p_aliases_s = true;
  int kv_slots = 4;
  int q_boxes = 2, q_box_bytes = 16384;     // per Q tile
  int kv_boxes = 2, kv_box_bytes = 16384;   // per ring slot
  std::vector<int> work;                    // KV tiles of each work tile of this CTA (0 allowed)
  int warps_per_wg = 4;                     // 1: each warpgroup one role (exhaustive runs)
  int threads = 512;
  // Data-dependent: does correction warp `w` rescale O_t at KV tile j of work tile `wk`?
  std::function<bool(int wk, int j, int t, int w)> rescale = [](int, int j, int, int) { return j % 2 == 1; };
  std::string mutation;  // injected bug (mutation tests)
  // EXT rows (issue 14; ptx/body/sm100_fwd/features.ptxh KV_ISSUE_EXT): the V tail fix's barrier
  // v_land exists (initialised after the S/P buffers' barriers), and per work tile (index as
  // `work`; missing entries 0):
  //   v_fix[w]           1: the V tile of its last KV tile takes the tail fix (seqused_k / paged
  //                      K/V with fewer keys than BLOCK_N): its boxes land on v_land, the TMA thread
  //                      waits v_land, zeroes the rows past the keys (st.shared, tag Vzero), fences
  //                      them (fence.proxy.async) and arrives on kv_full itself; the MMA reads Vzero
  //   paged[w]           1: its K/V go through the block table (the PTX's paged expect_tx and TMA
  //                      sites; the contiguous ones otherwise)
  //   row_boxes[w]       TMA loads per 64-column box of a full KV tile (paged: BLOCK_N / box_rows;
  //                      0: 1, one box of BLOCK_N rows)
  //   last_row_boxes[w]  loads per 64-column box of its last KV tile (paged: the boxes that hold
  //                      keys; 0: row_boxes[w])
  // A box of several loads writes its region with the first load (the others carry bytes only:
  // the region is read after kv_full, i.e. after every load of the slot has completed).
  bool v_land = false;
  std::vector<int> v_fix, paged, row_boxes, last_row_boxes;
};

inline TwoTileParams twotile_params(const sm100_design::FwdDesign& d, std::vector<int> work, int slots = -1) {
  TwoTileParams p;
  p.q_tiles = d.q_tiles;
  p.p_aliases_s = d.p_aliases_s;
  p.kv_slots = slots > 0 ? slots : d.kv_slots;
  p.q_boxes = d.head_dim / 64;
  p.q_box_bytes = 128 * 128;
  p.kv_boxes = d.head_dim / 64;
  p.kv_box_bytes = d.block_n * 128;
  p.threads = d.threads;
  p.work = std::move(work);
  return p;
}

inline Model twotile_model(const TwoTileParams& p) {
  Model m;
  m.name = "two-tile";
  const int T = p.q_tiles, R = p.kv_slots, W = p.warps_per_wg;
  const int NB = 2;  // S/P buffers: one per Q tile (T = 2) or per KV tile parity (T = 1)
  const std::string& mu = p.mutation;
  auto mut = [&](const char* name) { return mu == name; };

  // ---- barriers ----
  int q_full[2], q_empty[2], s_full[2], p_full[2], o_ready[2], o_full[2], st_full[2], st_empty[2];
  auto at = [](const std::vector<int>& v, int wk, int dflt) { return wk < static_cast<int>(v.size()) && v[wk] != 0 ? v[wk] : dflt; };
  for (int t = 0; t < T; ++t) {
    q_full[t] = m.add_bar("q_full[" + std::to_string(t) + "]", 1);
    q_empty[t] = m.add_bar("q_empty[" + std::to_string(t) + "]", 1);
  }
  std::vector<int> kv_full, kv_empty;
  for (int r = 0; r < R; ++r) {
    kv_full.push_back(m.add_bar("kv_full[" + std::to_string(r) + "]", 1));
    kv_empty.push_back(m.add_bar("kv_empty[" + std::to_string(r) + "]", 1));
  }
  for (int b = 0; b < NB; ++b) {
    s_full[b] = m.add_bar("s_full[" + std::to_string(b) + "]", 1);
    p_full[b] = m.add_bar("p_full[" + std::to_string(b) + "]", 128);
  }
  const int v_land = p.v_land ? m.add_bar("v_land", 1) : -1;
  for (int t = 0; t < T; ++t) {
    o_ready[t] = m.add_bar("o_ready[" + std::to_string(t) + "]", 128);
    o_full[t] = m.add_bar("o_full[" + std::to_string(t) + "]", 1);
    st_full[t] = m.add_bar("stats_full[" + std::to_string(t) + "]", 128);
    st_empty[t] = m.add_bar("stats_empty[" + std::to_string(t) + "]", 128);
  }
  // ---- regions ----
  std::vector<int> q_box[2];
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < p.q_boxes; ++b) q_box[t].push_back(m.add_region("Q" + std::to_string(t) + ".box" + std::to_string(b), false, true));
  std::vector<int> slot_box;  // [slot * kv_boxes + box]
  for (int r = 0; r < R; ++r)
    for (int b = 0; b < p.kv_boxes; ++b) slot_box.push_back(m.add_region("KV slot " + std::to_string(r) + ".box" + std::to_string(b), false, true));
  // TMEM, the row statistics and the O staging rows are split by lane quarter (warp w of a
  // warpgroup owns lanes / rows 32w..32w+31); the MMA and the TMA store touch every quarter.
  auto quarters = [&](const std::string& n, bool tmem, bool async) {
    std::vector<int> q;
    for (int w = 0; w < W; ++w) q.push_back(m.add_region(W == 1 ? n : n + ".lanes" + std::to_string(32 * 4 / W * w), tmem, async));
    return q;
  };
  std::vector<int> s_lo[2], s_hi[2], p_reg[2], o_reg[2], stats[2];
  for (int b = 0; b < NB; ++b) {
    if (p.p_aliases_s) {
      s_lo[b] = quarters("S" + std::to_string(b) + ".cols[0,BN/2)", true, false);
      s_hi[b] = quarters("S" + std::to_string(b) + ".cols[BN/2,BN) = P" + std::to_string(b), true, false);
      p_reg[b] = s_hi[b];
    } else {
      s_lo[b] = quarters("S" + std::to_string(b), true, false);
      p_reg[b] = quarters("P" + std::to_string(b), true, false);
    }
  }
  for (int t = 0; t < T; ++t) {
    o_reg[t] = quarters("O" + std::to_string(t), true, false);
    stats[t] = quarters("stats" + std::to_string(t) + " (smem)", false, false);
  }
  const std::vector<int> ostage = quarters("O staging (smem)", false, true);
  auto all = [&](const std::vector<int>& rs, int64_t tg) {
    std::vector<Access> a;
    for (int r : rs) a.push_back({r, tg});
    return a;
  };
  // accumulator ids: S_b lo 2b, S_b hi 2b + 1, O_t 4 + t
  auto acc_s = [](int b, int half) { return 2 * b + half; };
  auto acc_o = [](int t) { return 4 + t; };

  auto s_writes = [&](int b, int half, int64_t tg) { return all(half == 0 ? s_lo[b] : s_hi[b], tg); };
  auto s_reads = [&](int b, int w, int64_t tg) {  // warp w's lanes
    std::vector<Access> r = {{s_lo[b][w], tg}};
    if (p.p_aliases_s) r.push_back({s_hi[b][w], tg});
    return r;
  };
  auto slot_acc = [&](int slot, int64_t tg) {
    std::vector<Access> r;
    for (int b = 0; b < p.kv_boxes; ++b) r.push_back({slot_box[slot * p.kv_boxes + b], tg});
    return r;
  };
  auto q_acc = [&](int t, int64_t tg) {
    std::vector<Access> r;
    for (int b = 0; b < p.q_boxes; ++b) r.push_back({q_box[t][b], tg});
    return r;
  };

  auto setup = [&](Emitter& e, bool inits, bool alloc, int threads) {
    e.section = "setup";
    if (inits) {  // in the PTX's order (setup.ptxh BARRIER_INIT: per Q tile, per slot, per buffer)
      for (int t = 0; t < T; ++t) {
        e.init(q_full[t], 1, "q_full");
        e.init(q_empty[t], 1, "q_empty");
        e.init(o_ready[t], 128, "o_ready");
        e.init(o_full[t], 1, "o_full");
        e.init(st_full[t], 128, "stats_full");
        e.init(st_empty[t], 128, "stats_empty");
      }
      for (int r = 0; r < R; ++r) {
        e.init(kv_full[r], 1, "kv_full");
        e.init(kv_empty[r], 1, "kv_empty");
      }
      for (int b = 0; b < NB; ++b) {
        e.init(s_full[b], 1, "s_full");
        e.init(p_full[b], 128, "p_full");
      }
      if (v_land >= 0) e.init(v_land, 1, "v_land");
    }
    if (alloc) e.alloc("alloc");
    e.fence_before("before");
    e.bar_sync(0, threads, p.threads, "bar0");
    e.fence_after("after");
  };
  auto teardown = [&](Emitter& e, bool dealloc, int threads) {
    e.section = "teardown";
    e.fence_before("before");
    e.bar_sync(0, threads, p.threads, "bar0");
    e.fence_after("after");
    if (dealloc) e.dealloc("dealloc");
  };

  // Ring order of one work tile: the sequence of (is_v, j) slot uses.
  auto ring_order = [&](int n) {
    std::vector<std::pair<bool, int>> o;
    if (T == 2) {
      for (int j = 0; j < n; ++j) {
        o.push_back({false, j});
        o.push_back({true, j});
      }
    } else {
      if (n > 0) o.push_back({false, 0});
      if (n > 1) o.push_back({false, 1});
      for (int j = 0; j < n; ++j) {
        o.push_back({true, j});
        if (j + 2 < n) o.push_back({false, j + 2});
      }
    }
    return o;
  };

  // The idle warps of the MMA/TMA warpgroup only meet bar.sync 0: their threads are counted with
  // the TMA warp's (fewer interleavings, same barrier counts).
  const int idle_threads = p.threads - 128 * T - 128 - 64;
  // ================= TMA =================
  // PTX (tma_loader.ptxh): per work tile Q_0 ("L1.pre"), then the ring items in one loop with Q_1
  // behind item 0 ("L1.L1"); at exit one drain loop over the ring slots that also waits each Q
  // buffer ("L2").
  {
    Program pr{"tma", {}};
    Emitter e{&pr};
    setup(e, false, false, 32 + idle_threads);
    int g = 0, wq = 0, vl = 0;
    for (int wk = 0; wk < static_cast<int>(p.work.size()); ++wk) {
      const int n = p.work[wk];
      if (n == 0) continue;
      auto load_q = [&](int t, const char* sw, const char* sx, const char* st) {
        const bool skip = mut("TMA skips the q_empty wait of the next work tile") && wq == 1;
        if (!skip) e.wait(q_empty[t], (wq & 1) ^ 1, wq, sw, "Q" + std::to_string(t));
        e.expect_tx(q_full[t], p.q_boxes * p.q_box_bytes, sx);
        for (int b = 0; b < p.q_boxes; ++b) e.tma_load(q_full[t], p.q_box_bytes, {{q_box[t][b], tag(T_Q, wk, t)}}, st, "Q" + std::to_string(t));
      };
      auto load_slot = [&](bool is_v, int j) {
        const int slot = g % R;
        int ghost = g / R;
        int par = ((g / R) & 1) ^ 1;
        if (mut("TMA reuses a ring slot one tile early") && g >= R) {  // waits for one completion fewer
          ghost = g / R - 1;
          par = ((g / R - 1) & 1) ^ 1;
        }
        e.wait(kv_empty[slot], par, ghost, "wait_kv_empty", (is_v ? "V_" : "K_") + std::to_string(j));
        const std::string what = (is_v ? "V_" : "K_") + std::to_string(j);
        const int rb = at(p.row_boxes, wk, 1), nb = j == n - 1 ? at(p.last_row_boxes, wk, rb) : rb;
        const int sub = p.kv_box_bytes / rb;
        const bool fix = is_v && j == n - 1 && at(p.v_fix, wk, 0) != 0;
        const int bar = fix && !mut("V tail loaded onto kv_full (no v_land)") ? v_land : kv_full[slot];
        const int bytes = p.kv_boxes * nb * sub - (mut("expect_tx counts one box too few") ? sub : 0);
        const bool pg = at(p.paged, wk, 0) != 0;
        e.expect_tx(bar, bytes, pg ? "expect_kv_page" : "expect_kv");
        for (int k = 0; k < nb; ++k)  // PTX: per box row k, every 64-column chunk
          for (int b = 0; b < p.kv_boxes; ++b) {
            std::vector<Access> w;
            if (k == 0) w.push_back({slot_box[slot * p.kv_boxes + b], tag(is_v ? T_V : T_K, wk, j)});
            e.tma_load(bar, sub, w, pg ? "tma_kv_page" : "tma_kv", what);
          }
        if (fix) {  // the V tail fix (KV_ISSUE_EXT): land, zero the rows past the keys, release
          if (!mut("TMA zeroes V without waiting for v_land")) e.wait(v_land, vl & 1, vl + 1, "wait_v_land", what + " landed");
          ++vl;
          const bool late = mut("TMA releases kv_full before zeroing V");
          if (late) e.arrive(kv_full[slot], 1, "arrive_v_fixed", what + " (early)");
          e.smem_write(slot_acc(slot, tag(T_VZ, wk, j)), "st_v_zero");
          if (!mut("TMA omits fence.proxy.async after zeroing V")) e.fence_proxy("proxy_v_zero");
          if (!late) e.arrive(kv_full[slot], 1, "arrive_v_fixed", what + " zeroed past the keys");
        }
        ++g;
      };
      const auto order = ring_order(n);
      e.section = "L1.pre";
      load_q(0, "wait_q_empty0", "expect_q0", "tma_q0");
      e.section = "L1.L1";
      for (std::size_t i = 0; i < order.size(); ++i) {
        load_slot(order[i].first, order[i].second);
        if (i == 0 && T == 2) load_q(1, "wait_q_empty1", "expect_q1", "tma_q1");
      }
      ++wq;
    }
    e.section = "L2";  // drain: the last commit arrivals on every slot and Q buffer
    for (int i = 0; i < R && g > 0; ++i) {
      const int gg = g + i;
      e.wait(kv_empty[gg % R], ((gg / R) & 1) ^ 1, gg / R, "drain_kv", "drain");
      if (i < T && wq > 0 && !mut("TMA skips the drain")) e.wait(q_empty[i], (wq & 1) ^ 1, wq, "drain_q", "drain");
    }
    teardown(e, false, 32 + idle_threads);
    m.roles.push_back(std::move(pr));
  }

  // ================= MMA =================
  // PTX (mma.ptxh): per work tile the prologue loop over the first S of both buffers ("L1.L1"),
  // then one loop over (KV tile j, Q tile t) items: PV_t(j) and the S KV_LEAD tiles ahead
  // ("L1.L2"). One ISSUE_S code path per loop (sites per section).
  {
    Program pr{"mma", {}};
    Emitter e{&pr};
    setup(e, false, true, 32);
    int g = 0, wq = 0;
    int pcnt[2] = {0, 0}; // P consumed per buffer (global)
    int pv[2] = {0, 0};   // PV issued per O tile (global)
    int oready[2] = {0, 0};
    int c0 = 0;           // KV tiles of earlier work tiles (S buffer parity at T = 1)
    const int lead = T == 2 ? 1 : 2;
    for (int wk = 0; wk < static_cast<int>(p.work.size()); ++wk) {
      const int n = p.work[wk];
      if (n == 0) continue;
      // Slots of this work tile in ring order.
      const auto order = ring_order(n);
      std::vector<int> k_slot(n), v_slot(n), k_g(n), v_g(n);
      for (std::size_t i = 0; i < order.size(); ++i) {
        const int gi = g + static_cast<int>(i);
        (order[i].first ? v_slot : k_slot)[order[i].second] = gi % R;
        (order[i].first ? v_g : k_g)[order[i].second] = gi;
      }
      g += static_cast<int>(order.size());
      auto wait_slot = [&](bool is_v, int j, const char* site) {
        const int gi = is_v ? v_g[j] : k_g[j];
        e.wait(kv_full[gi % R], (gi / R) & 1, gi / R + 1, site, (is_v ? "V_" : "K_") + std::to_string(j));
      };
      // S = Q_t K_j^T into buffer b, then its commits (ISSUE_S).
      auto issue_s = [&](int t, int b, int j, const char* wpv, const char* fpv) {
        const int64_t ts = tag(T_S, wk, j * 2 + t);
        std::vector<Access> r = q_acc(t, tag(T_Q, wk, t));
        for (const Access& a : slot_acc(k_slot[j], tag(T_K, wk, j))) r.push_back(a);
        if (p.p_aliases_s) {
          e.mma(acc_s(b, 0), r, s_writes(b, 0, ts), "mma_qk_lo", "S" + std::to_string(t) + "_" + std::to_string(j) + " lower half");
          if (pv[t] > 0 && !mut("S upper half issued without waiting for PV (FA4 order)")) {
            e.wait(o_full[t], (pv[t] - 1) & 1, pv[t], wpv, "PV" + std::to_string(t) + " read P");
            e.fence_after(fpv);
          }
          e.mma(acc_s(b, 1), r, s_writes(b, 1, ts), "mma_qk_hi", "S" + std::to_string(t) + "_" + std::to_string(j) + " upper half");
        } else {
          e.mma(acc_s(b, 0), r, s_writes(b, 0, ts), "mma_qk", "S" + std::to_string(t) + "_" + std::to_string(j));
        }
        const int sb = (mut("commit of S1 to s_full[0]") && b == 1) ? s_full[0] : s_full[b];
        e.commit(sb, "commit_s");
        if (j == n - 1) e.commit(q_empty[t], "commit_q");
        if (t == T - 1) e.commit(kv_empty[k_slot[j]], "commit_k");
      };
      auto issue_pv = [&](int t, int b, int j) {
        e.wait(p_full[b], pcnt[b] & 1, pcnt[b] + 1, "wait_p", "P" + std::to_string(b) + " of tile " + std::to_string(j));
        ++pcnt[b];
        if (!(mut("MMA skips the o_ready wait") && j == 1)) e.wait(o_ready[t], oready[t] & 1, oready[t] + 1, "wait_o_ready", "O" + std::to_string(t));
        ++oready[t];
        e.fence_after("after_p");
        std::vector<Access> r = all(p_reg[b], tag(T_P, wk, j * 2 + t));
        const bool fixed = j == n - 1 && at(p.v_fix, wk, 0) != 0;  // the V tail fix's zeros
        for (const Access& a : slot_acc(v_slot[j], tag(fixed ? T_VZ : T_V, wk, j))) r.push_back(a);
        std::vector<Access> w = all(o_reg[t], tag(T_O, wk, j * 2 + t));
        if (j > 0)
          for (Access& a : w) a.prior = tag(T_O, wk, (j - 1) * 2 + t);
        e.mma(acc_o(t), r, w, "mma_pv", "PV" + std::to_string(t) + "_" + std::to_string(j));
        e.commit(o_full[t], "commit_o");
        ++pv[t];
      };
      // S/P buffer of Q tile t's KV tile j: t (two Q tiles), or the global KV tile parity.
      auto buf = [&](int t, int j) { return T == 2 ? t : (c0 + j) % 2; };
      e.section = "L1.L1";  // MMA_PROLOGUE
      const int pro = std::min(n * T, 2);
      for (int i = 0; i < pro; ++i) {
        const int t = i % T, j = i / T;
        if (i < T) e.wait(q_full[i], wq & 1, wq + 1, "wait_q", "Q" + std::to_string(i));
        if (t == 0) wait_slot(false, j, "wait_k_pro");
        e.fence_after("after_qk");
        issue_s(t, buf(t, j), j, "wait_pv_pro", "after_pv_pro");
      }
      e.section = "L1.L2";  // MMA_LOOP
      for (int i = 0; i < n * T; ++i) {
        const int t = i % T, j = i / T;
        if (t == 0) wait_slot(true, j, "wait_v");
        issue_pv(t, buf(t, j), j);
        if (t == T - 1) e.commit(kv_empty[v_slot[j]], "commit_v");
        if (j + lead < n) {
          if (t == 0) {
            wait_slot(false, j + lead, "wait_k_loop");
            e.fence_after("after_k");
          }
          issue_s(t, buf(t, j + lead), j + lead, "wait_pv_loop", "after_pv_loop");
        }
      }
      c0 += n;
      ++wq;
    }
    teardown(e, true, 32);
    m.roles.push_back(std::move(pr));
  }

  // ================= softmax warpgroup(s) =================
  for (int t = 0; t < T; ++t) {
    int sc[2] = {0, 0}, stc = 0;
    std::vector<Program> warps(W);
    for (int w = 0; w < W; ++w) {
      warps[w].role = (T == 2 ? "softmax" + std::to_string(t) : std::string("softmax")) + (W == 1 ? "" : ".w" + std::to_string(w));
    }
    for (int w = 0; w < W; ++w) {
      Emitter e{&warps[w]};
      setup(e, t == 0 && w == 0, false, 128 / W);
    }
    int gs = 0;  // S tiles seen by this warpgroup (buffer parity at T = 1)
    for (int wk = 0; wk < static_cast<int>(p.work.size()); ++wk) {
      const int n = p.work[wk];
      if (n == 0) continue;
      for (int j = 0; j < n; ++j) {
        const int b = T == 2 ? t : gs % 2;
        const int64_t ts = tag(T_S, wk, j * 2 + t), tp = tag(T_P, wk, j * 2 + t);
        for (int w = 0; w < W; ++w) {
          Emitter e{&warps[w]};
          e.section = "L1.L1";  // SOFTMAX_LOOP
          const bool wrong_parity = mut("softmax waits s_full with the wrong parity") && j == 1;
          e.wait(s_full[b], (sc[b] & 1) ^ (wrong_parity ? 1 : 0), sc[b] + 1, "wait_s", "S of tile " + std::to_string(j));
          if (!(mut("softmax omits tcgen05.fence::after_thread_sync") && j == 1)) e.fence_after("after_s");
          e.tc_ld(s_reads(b, w, ts), "ld_s", "S of tile " + std::to_string(j));
          e.fence_before("before_stats");
          e.wait(st_empty[t], (stc & 1) ^ 1, stc, "wait_stats_empty", "stats slot");
          e.smem_write({{stats[t][w], tag(T_STATS, wk, j)}}, "st_stats");
          e.arrive(st_full[t], 128 / W, "arrive_stats", "alpha of tile " + std::to_string(j));
          e.fence_after("after_stats");
          const bool early = mut("softmax arrives p_full before storing P") && j == 1;
          if (early) {
            e.fence_before("before_p");
            e.arrive(p_full[b], 128 / W, "arrive_p", "P (early)");
          }
          e.tc_st({{p_reg[b][w], tp}}, "st_p", "P of tile " + std::to_string(j));
          if (!early) {
            if (!(mut("softmax omits tcgen05.fence::before_thread_sync before p_full") && j == 0)) e.fence_before("before_p");
            const bool skip = mut("one softmax warp misses its p_full arrival") && j == 1 && w == W - 1;
            if (!skip) e.arrive(p_full[b], 128 / W, "arrive_p", "P of tile " + std::to_string(j));
          }
        }
        ++sc[b];
        ++stc;
        ++gs;
      }
      // Final statistics (row sum l) for the epilogue; LSE is written by the softmax itself.
      for (int w = 0; w < W; ++w) {
        Emitter e{&warps[w]};
        e.section = "L1.post";  // SOFTMAX_LSE
        e.wait(st_empty[t], (stc & 1) ^ 1, stc, "wait_stats_empty_fin", "stats slot");
        e.smem_write({{stats[t][w], tag(T_STATS, wk, n)}}, "st_stats_fin");
        e.arrive(st_full[t], 128 / W, "arrive_stats_fin", "final l");
      }
      ++stc;
    }
    for (int w = 0; w < W; ++w) {
      Emitter e{&warps[w]};
      teardown(e, false, 128 / W);
      m.roles.push_back(std::move(warps[w]));
    }
  }

  // ================= correction warpgroup =================
  {
    std::vector<Program> warps(W);
    for (int w = 0; w < W; ++w) warps[w].role = std::string("correction") + (W == 1 ? "" : ".w" + std::to_string(w));
    for (int w = 0; w < W; ++w) {
      Emitter e{&warps[w]};
      setup(e, false, false, 128 / W);
    }
    int sf[2] = {0, 0}, pvdone[2] = {0, 0};
    const int EPI = sm100_design::kNamedBarEpilogue;
    int stores = 0;
    for (int wk = 0; wk < static_cast<int>(p.work.size()); ++wk) {
      const int n = p.work[wk];
      for (int j = 0; j < n; ++j)
        for (int t = 0; t < T; ++t) {
          for (int w = 0; w < W; ++w) {
            Emitter e{&warps[w]};
            e.section = "L1.L1";  // CORRECT_LOOP
            e.wait(st_full[t], sf[t] & 1, sf[t] + 1, "wait_stats", "alpha of tile " + std::to_string(j));
            e.smem_read({{stats[t][w], tag(T_STATS, wk, j)}}, "ld_stats");
            e.arrive(st_empty[t], 128 / W, "arrive_stats_empty", "stats slot");
            // Every tile j >= 1 waits for PV_t(j-1), also when no row needs a rescale: at one Q
            // tile per CTA (S double-buffered over KV tiles) the softmax runs a tile ahead of the
            // MMA, and a skipped wait would let o_full / o_ready run two phases apart (parity
            // aliasing; the model found it).
            if (j > 0) {
              if (!(mut("correction rescales O without waiting for PV") && p.rescale(wk, j, t, w)))
                e.wait(o_full[t], (pvdone[t] - 1) & 1, pvdone[t], "wait_o_full", "PV of tile " + std::to_string(j - 1));
              e.fence_after("after_o");
            }
            if (j > 0 && p.rescale(wk, j, t, w)) {
              if (mut("correction releases O before rescaling it")) {
                e.fence_before("before_o");
                e.arrive(o_ready[t], 128 / W, "arrive_o_ready", "O (early)");
              }
              e.tc_ld({{o_reg[t][w], tag(T_O, wk, (j - 1) * 2 + t)}}, "ld_o", "O rescale");
              e.tc_st({{o_reg[t][w], tag(T_O, wk, (j - 1) * 2 + t)}}, "st_o", "O rescale");
            }
            e.fence_before("before_o");
            if (!(mut("correction releases O before rescaling it") && j > 0 && p.rescale(wk, j, t, w)))
              e.arrive(o_ready[t], 128 / W, "arrive_o_ready", "O of tile " + std::to_string(j));
          }
          ++sf[t];
          ++pvdone[t];
        }
      // Epilogue per Q tile: O / l -> bf16 -> staging -> TMA store (warp 0 lane 0).
      for (int t = 0; t < T; ++t) {
        for (int w = 0; w < W; ++w) {
          Emitter e{&warps[w]};
          e.section = "L1.L2";  // EPILOGUE, per Q tile
          if (n > 0) {
            e.wait(st_full[t], sf[t] & 1, sf[t] + 1, "wait_stats_fin", "final l");
            e.smem_read({{stats[t][w], tag(T_STATS, wk, n)}}, "ld_stats_fin");
            e.arrive(st_empty[t], 128 / W, "arrive_stats_empty_fin", "stats slot");
            e.wait(o_full[t], (pvdone[t] - 1) & 1, pvdone[t], "wait_o_full_epi", "last PV");
            e.fence_after("after_o_epi");
          }
          if (w == 0 && stores > 0 && !mut("correction rewrites the O staging before the TMA store read it")) e.bulk_wait_read("wait_store");
          e.bar_sync(EPI, 128 / W, 128, "bar_epi_free");
          if (n > 0) {
            e.fence_after("after_bar");
            e.tc_ld({{o_reg[t][w], tag(T_O, wk, (n - 1) * 2 + t)}}, "ld_o_epi", "O epilogue");
          }
          e.smem_write({{ostage[w], tag(T_OSTG, wk, t)}}, "st_o_stage");
          e.fence_proxy("proxy");
          e.fence_before("before_bar");
          e.bar_sync(EPI, 128 / W, 128, "bar_epi_full");
          if (w == 0) e.tma_store(all(ostage, tag(T_OSTG, wk, t)), "tma_store");
        }
        if (n > 0) ++sf[t];
        ++stores;
      }
    }
    for (int w = 0; w < W; ++w) {
      Emitter e{&warps[w]};
      e.section = "post";  // CORRECT_EXIT
      if (w == 0 && stores > 0) e.bulk_wait_read("wait_store_exit");
      teardown(e, false, 128 / W);
      m.roles.push_back(std::move(warps[w]));
    }
  }

  return m;
}

}  // namespace sm100_model
