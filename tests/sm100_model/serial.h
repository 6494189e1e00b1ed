// Protocol model of the serial sm100a forward kernels (the "_serial" family):
// ptx/body/sm100_fwd_serial/, protocol in its roles.ptxh.
//
// Roles: softmax warps 0-3 (softmax + O correction + epilogue; warp 0 thread 0 also initialises
// the mbarriers), warp 4 (TMA loads, lane 0), warp 5 (TMEM alloc/dealloc, lane 0 issues every
// tcgen05.mma / commit). One 128-row Q tile, n KV tiles, a K/V ring of `stages` stages, S/P
// double-buffered in TMEM (P over the first half of S, or in shared memory for the _pss_
// variants), O in TMEM.
//
// Sections ("pre", "L1", "mid1", "L2", ..., "post") name the code between and inside the
// synchronisation loops of each role's region of the PTX, as the extractor finds them
// (ptx_roles.h count_sections); sites name the distinct instructions inside a section.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "model.h"

namespace sm100_model {

struct SerialParams {
  int n_tiles = 4;
  int stages = 2;
  int softmax_warps = 4;       // 1: the warpgroup as one role (exhaustive runs); 4: warp by warp
  bool p_in_smem = false;      // _pss_ variants
  int q_boxes = 2, q_box_bytes = 16384, q_tx_bytes = 32768;
  int kv_boxes = 2, kv_box_bytes = 16384, kv_tx_bytes = 32768;
  int p_full_arrivals = 128;   // P_FULL_ARRIVALS
  int threads = 192;
  // Data-dependent branch: does softmax warp `w` rescale O at tile j (some row's max grew)?
  std::function<bool(int j, int w)> correct = [](int, int) { return true; };
  // Injected bugs (mutation tests): see test_cpu_sm100a_protocol.cpp.
  std::string mutation;
};

inline Model serial_model(const SerialParams& p) {
  Model m;
  m.name = "serial";
  const int S = p.stages;
  const bool mut_no_o_wait = p.mutation == "serial: S_(j+2) issued without waiting for PV_j";
  // Barriers (counts as the kernel initialises them).
  const int q_full = m.add_bar("q_full", 1);
  std::vector<int> k_full, k_empty, v_full, v_empty;
  for (int s = 0; s < S; ++s) {
    k_full.push_back(m.add_bar("k_full[" + std::to_string(s) + "]", 1));
    k_empty.push_back(m.add_bar("k_empty[" + std::to_string(s) + "]", 1));
    v_full.push_back(m.add_bar("v_full[" + std::to_string(s) + "]", 1));
    v_empty.push_back(m.add_bar("v_empty[" + std::to_string(s) + "]", 1));
  }
  const int s_full[2] = {m.add_bar("s_full[0]", 1), m.add_bar("s_full[1]", 1)};
  const int p_full[2] = {m.add_bar("p_full[0]", p.p_full_arrivals), m.add_bar("p_full[1]", p.p_full_arrivals)};
  const int o_done = m.add_bar("o_done", 1);

  // Regions: Q and K/V boxes (smem), S buffers (TMEM; the P half and the other half), O (TMEM),
  // P buffers in smem for _pss_.
  std::vector<int> q_box, k_box, v_box;
  for (int b = 0; b < p.q_boxes; ++b) q_box.push_back(m.add_region("Q.box" + std::to_string(b), false, true));
  for (int s = 0; s < S; ++s)
    for (int b = 0; b < p.kv_boxes; ++b) {
      k_box.push_back(m.add_region("K[" + std::to_string(s) + "].box" + std::to_string(b), false, true));
      v_box.push_back(m.add_region("V[" + std::to_string(s) + "].box" + std::to_string(b), false, true));
    }
  // TMEM and the P rows are split by lane quarter: softmax warp w owns lanes (rows) 32w..32w+31.
  const int W = p.softmax_warps;
  auto quarters = [&](const std::string& n, bool tmem, bool async) {
    std::vector<int> q;
    for (int w = 0; w < W; ++w) q.push_back(m.add_region(W == 1 ? n : n + ".lanes" + std::to_string(32 * 4 / W * w), tmem, async));
    return q;
  };
  std::vector<int> s_lo[2], s_hi[2], p_smem[2];
  for (int b = 0; b < 2; ++b) {
    s_lo[b] = quarters("S" + std::to_string(b) + ".cols[0,BN/2)", true, false);
    s_hi[b] = quarters("S" + std::to_string(b) + ".cols[BN/2,BN)", true, false);
    if (p.p_in_smem) p_smem[b] = quarters("P[" + std::to_string(b) + "] (smem)", false, true);
  }
  const std::vector<int> o_reg = quarters("O", true, false);
  auto all = [&](const std::vector<int>& rs, int64_t tg) {
    std::vector<Access> a;
    for (int r : rs) a.push_back({r, tg});
    return a;
  };
  auto cat = [](std::vector<Access> a, const std::vector<Access>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const int ACC_S0 = 0, ACC_O = 2;

  auto q_reads = [&]() {
    std::vector<Access> r;
    for (int b : q_box) r.push_back({b, tag(T_Q, 0, 0)});
    return r;
  };
  auto kv_boxes = [&](const std::vector<int>& boxes, int stage, int kind, int j) {
    std::vector<Access> r;
    for (int b = 0; b < p.kv_boxes; ++b) r.push_back({boxes[stage * p.kv_boxes + b], tag(kind, 0, j)});
    return r;
  };
  auto p_region = [&](int b) -> const std::vector<int>& { return p.p_in_smem ? p_smem[b] : s_lo[b]; };

  auto setup = [&](Emitter& e, bool inits, bool alloc, int threads) {
    e.section = "setup";
    if (inits) {
      e.init(q_full, 1, "q_full");
      for (int s = 0; s < S; ++s) {
        e.init(k_full[s], 1, "k_full");
        e.init(k_empty[s], 1, "k_empty");
        e.init(v_full[s], 1, "v_full");
        e.init(v_empty[s], 1, "v_empty");
      }
      e.init(s_full[0], 1, "s_full0");
      e.init(s_full[1], 1, "s_full1");
      e.init(p_full[0], p.p_full_arrivals, "p_full0");
      e.init(p_full[1], p.p_full_arrivals, "p_full1");
      e.init(o_done, 1, "o_done");
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

  const int n = p.n_tiles;
  // ---- MMA issuer (warp 5) ----
  {
    Program pr{"mma", {}};
    Emitter e{&pr};
    setup(e, false, true, 32);
    if (n > 0) {
      e.section = "pre";
      e.wait(q_full, 0, 1, "wait_q", "Q");
      auto issue_s = [&](int sj, const char* sec) {
        e.section = sec;
        const int st = sj % S, b = sj % 2;
        e.wait(k_full[st], (sj / S) & 1, sj / S + 1, "wait_k", "K_" + std::to_string(sj));
        e.fence_after("after_k");
        std::vector<Access> r = q_reads();
        for (const Access& a : kv_boxes(k_box, st, T_K, sj)) r.push_back(a);
        e.mma(ACC_S0 + b, r, cat(all(s_lo[b], tag(T_S, 0, sj)), all(s_hi[b], tag(T_S, 0, sj))), "mma_qk", "S_" + std::to_string(sj));
        e.commit(s_full[b], "commit_s");
        e.commit(k_empty[st], "commit_k");
      };
      for (int sj = 0; sj < std::min(n, 2); ++sj) issue_s(sj, "L1");
      for (int j = 0; j < n; ++j) {
        e.section = "L2";
        const int b = j % 2, st = j % S;
        e.wait(p_full[b], (j / 2) & 1, j / 2 + 1, "wait_p", "P_" + std::to_string(j));
        e.wait(v_full[st], (j / S) & 1, j / S + 1, "wait_v", "V_" + std::to_string(j));
        e.fence_after("after_v");
        std::vector<Access> r = cat(all(p_region(b), tag(T_P, 0, j)), kv_boxes(v_box, st, T_V, j));
        std::vector<Access> w = all(o_reg, tag(T_O, 0, j));
        if (j > 0)
          for (Access& a : w) a.prior = tag(T_O, 0, j - 1);
        e.mma(ACC_O, r, w, "mma_pv", "PV_" + std::to_string(j));
        e.commit(o_done, "commit_o");
        e.commit(v_empty[st], "commit_v");
        if (j + 2 < n) {
          if (!mut_no_o_wait) {
            e.wait(o_done, j & 1, j + 1, "wait_o", "PV_" + std::to_string(j));
            e.fence_after("after_o");
          }
          issue_s(j + 2, "L2");
        }
      }
    }
    teardown(e, true, 32);
    m.roles.push_back(std::move(pr));
  }
  // ---- TMA loader (warp 4) ----
  {
    Program pr{"load", {}};
    Emitter e{&pr};
    setup(e, false, false, 32);
    if (n > 0) {
      e.section = "pre";
      e.expect_tx(q_full, p.q_tx_bytes, "expect_q");
      for (int b = 0; b < p.q_boxes; ++b) e.tma_load(q_full, p.q_box_bytes, {{q_box[b], tag(T_Q, 0, 0)}}, "tma_q", "Q box");
      e.section = "L1";
      for (int j = 0; j < n; ++j) {
        const int st = j % S, ph = (j / S) & 1;
        e.wait(k_empty[st], ph ^ 1, j / S, "wait_k_empty", "K stage for tile " + std::to_string(j));
        e.expect_tx(k_full[st], p.kv_tx_bytes, "expect_k");
        for (int b = 0; b < p.kv_boxes; ++b)
          e.tma_load(k_full[st], p.kv_box_bytes, {{k_box[st * p.kv_boxes + b], tag(T_K, 0, j)}}, "tma_k", "K_" + std::to_string(j));
        e.wait(v_empty[st], ph ^ 1, j / S, "wait_v_empty", "V stage for tile " + std::to_string(j));
        e.expect_tx(v_full[st], p.kv_tx_bytes, "expect_v");
        for (int b = 0; b < p.kv_boxes; ++b)
          e.tma_load(v_full[st], p.kv_box_bytes, {{v_box[st * p.kv_boxes + b], tag(T_V, 0, j)}}, "tma_v", "V_" + std::to_string(j));
      }
      e.section = "L2";  // drain: every stage once more
      for (int i = 0; i < S; ++i) {
        const int j = n + i, st = j % S;
        e.wait(k_empty[st], ((j / S) & 1) ^ 1, j / S, "drain_k", "drain");
        e.wait(v_empty[st], ((j / S) & 1) ^ 1, j / S, "drain_v", "drain");
      }
    }
    teardown(e, false, 32);
    m.roles.push_back(std::move(pr));
  }
  // ---- softmax + correction + epilogue (warps 0-3) ----
  const int arr = p.p_full_arrivals / W;
  for (int w = 0; w < W; ++w) {
    Program pr{W == 1 ? "softmax" : "softmax.w" + std::to_string(w), {}};
    Emitter e{&pr};
    setup(e, w == 0, false, 128 / W);
    if (n > 0) {
      for (int j = 0; j < n; ++j) {
        e.section = "L1";
        const int b = j % 2;
        e.wait(s_full[b], (j / 2) & 1, j / 2 + 1, "wait_s", "S_" + std::to_string(j));
        e.fence_after("after_s");
        e.tc_ld({{s_lo[b][w], tag(T_S, 0, j)}, {s_hi[b][w], tag(T_S, 0, j)}}, "ld_s", "S_" + std::to_string(j));
        if (p.p_in_smem) e.smem_write({{p_smem[b][w], tag(T_P, 0, j)}}, "st_p");
        else e.tc_st({{s_lo[b][w], tag(T_P, 0, j)}}, "st_p", "P_" + std::to_string(j));
        if (j > 0) {
          e.wait(o_done, (j + 1) & 1, j, "wait_o", "PV_" + std::to_string(j - 1));
          e.fence_after("after_o");
          if (p.correct(j, w)) {
            e.tc_ld({{o_reg[w], tag(T_O, 0, j - 1)}}, "ld_o", "O rescale");
            e.tc_st({{o_reg[w], tag(T_O, 0, j - 1)}}, "st_o", "O rescale");
          }
        }
        if (p.p_in_smem) e.fence_proxy("proxy");
        e.fence_before("before_p");
        e.arrive(p_full[b], arr, "arrive_p", "P_" + std::to_string(j));
      }
      e.section = "post";  // the epilogue (its chunk loop holds no synchronisation)
      e.wait(o_done, (n + 1) & 1, n, "wait_o_epi", "PV_" + std::to_string(n - 1));
      e.fence_after("after_o_epi");
      e.tc_ld({{o_reg[w], tag(T_O, 0, n - 1)}}, "ld_o_epi", "O epilogue");
    }
    teardown(e, false, 128 / W);
    m.roles.push_back(std::move(pr));
  }
  return m;
}

}  // namespace sm100_model
