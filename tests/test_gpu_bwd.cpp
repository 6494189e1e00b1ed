// GPU tests of the attention backward (suite "gpu-sm90a": the backward kernels exist for sm_90a
// only; reported skipped elsewhere). Test case names start with "gpu bwd:"; run them alone with
//   build/tests/ptxfmha_tests -tc='gpu bwd*'
// They are ordered so that one run localises a failure: tiny one-tile problems stage by stage
// first (the preprocess kernel's D and -LSE*log2e and the main kernel's dQ accumulator read
// back from the workspace, then dQ, dK, dV), then the debug dump of the first m-block (dS^T,
// P^T, the dQ partial of one CTA against the CPU), then the sweep, determinism, sanitizer
// shapes and bad arguments. Every case: fresh N(0,1) inputs, outputs and workspace poisoned
// before each launch, dQ, dK, dV checked separately against the float64 reference (bounds in
// bwd_test_util.h), the first bad element printed with its (b, s, h, d); deterministic mode
// runs three times and must be bitwise identical; the fast mode's dK and dV (deterministic
// by construction) twice. Test cases print the worst figures per kernel so far at their end.
// cuDNN's backward error on the same inputs, and the main-kernel variants of the kernel table:
// tests/test_gpu_bwd_cudnn.cpp.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "bwd_test_util.h"

using namespace ptxfmha_test;

namespace {

struct Worst {
  long long cases = 0;
  double rel[3] = {0, 0, 0}, max_abs[3] = {0, 0, 0}, min_cos[3] = {1, 1, 1};
  std::string worst_case[3];
};
std::map<std::string, Worst>& worst() {
  static std::map<std::string, Worst> w;
  return w;
}

const ptxfmha::KernelInfo* main_row(int d) {
  return ptxfmha::find_kernel(gpu().info.sm, ptxfmha::KernelKind::Bwd, d);
}

void record(const BwdProblem& p, const BwdFigures& f) {
  Worst& w = worst()[main_row(p.head_dim) ? main_row(p.head_dim)->name : "?"];
  ++w.cases;
  const TensorFigures* t[3] = {&f.dq, &f.dk, &f.dv};
  for (int i = 0; i < 3; ++i) {
    auto worse = [](double a, double b) { return std::isnan(a) || a > b; };
    if (worse(t[i]->e.rel_l2, w.rel[i])) { w.rel[i] = t[i]->e.rel_l2; w.worst_case[i] = describe(p); }
    if (worse(t[i]->e.max_abs, w.max_abs[i])) w.max_abs[i] = t[i]->e.max_abs;
    if (std::isnan(t[i]->e.cosine) || t[i]->e.cosine < w.min_cos[i]) w.min_cos[i] = t[i]->e.cosine;
  }
}

// The worst figures so far per kernel (cumulative over the test cases of this file), printed
// at the end of each test case.
void print_worst() {
  for (const auto& kv : worst()) {
    const Worst& w = kv.second;
    std::printf("[ptxfmha-tests] bwd worst so far %-22s cases=%-4lld dQ rel_l2=%.3e max_abs=%.3e cos=%.7f | dK rel_l2=%.3e "
                "max_abs=%.3e cos=%.7f | dV rel_l2=%.3e max_abs=%.3e cos=%.7f | worst dQ case: %s\n",
                kv.first.c_str(), w.cases, w.rel[0], w.max_abs[0], w.min_cos[0], w.rel[1], w.max_abs[1], w.min_cos[1],
                w.rel[2], w.max_abs[2], w.min_cos[2], w.worst_case[0].c_str());
  }
  std::fflush(stdout);
}

// Runs one case: 3 launches (deterministic) or 2 (fast), figures of the first, bitwise
// comparison, optional workspace checks. Returns true when everything held.
bool run_case(const std::string& key, const BwdProblem& p, const BwdHostInputs& in, const BwdReference& ref,
              bool check_ws, const std::string& context = "", bool quiet = false) {
  BwdDeviceCase dc(p, in);
  BwdOutputs first, again;
  dc.run(&first, check_ws);
  const BwdFigures f = evaluate_bwd(p, first, ref);
  record(p, f);
  std::string why = bwd_failure(p, f);
  if (check_ws) {
    const WorkspaceFigures w = evaluate_workspace(p, in, ref, first.ws, *main_row(p.head_dim));
    if (w.dsum_bad || w.nlse_bad)
      why += "preprocess: " + std::to_string(w.dsum_bad) + " D, " + std::to_string(w.nlse_bad) +
             " -LSE*log2e rows wrong, first: " + w.first + "; ";
    else if (w.acc_bad || w.acc_pad_nonzero)
      why += "main kernel dQ accumulator (rel_l2 " + std::to_string(w.acc_rel_l2) + ", " +
             std::to_string(w.acc_pad_nonzero) + " padding rows not 0), first: " + w.first + "; ";
  }
  bool same = true;
  for (int r = 1; r < (p.deterministic ? 3 : 2); ++r) {
    dc.run(&again);
    if (!first.same_bits(again, p.deterministic)) same = false;
  }
  const bool ok = why.empty() && same;
  if (!quiet || !ok)
    MESSAGE(key << " " << describe(p) << ": " << describe(f.dq) << " | " << describe(f.dk) << " | " << describe(f.dv)
                << std::string(same ? "" : (p.deterministic ? " | NOT bitwise identical over 3 deterministic runs"
                                                             : " | dK/dV differ between two runs")));
  CHECK_MESSAGE(why.empty(), key << " " << context << " " << describe(p) << ": " << why);
  CHECK_MESSAGE(same, key << " " << context << " " << describe(p) << ": runs differ bitwise");
  return ok;
}

}  // namespace

TEST_CASE("gpu bwd: tiny shapes stage by stage (workspace D, -LSE*log2e, dQ accumulator; dQ, dK, dV)" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  const auto dims = bwd_head_dims();
  REQUIRE(!dims.empty());
  uint64_t seed = 100;
  for (int d : dims) {
    const ptxfmha::KernelInfo* row = main_row(d);
    REQUIRE(row != nullptr);
    const int bm = row->block_m, bn = row->block_n;
    // exactly one m-block and one n-block; then one residue each; then causal; then GQA 2 with
    // two n-blocks and two m-blocks; then rows without keys (causal, seqlen_q > seqlen_k).
    const BwdProblem ps[] = {
        bwd_problem(1, bm, bn, 1, 1, d, false),
        bwd_problem(1, 17, 33, 1, 1, d, false),
        bwd_problem(1, bm, bn, 1, 1, d, true),
        bwd_problem(1, 2 * bm, 2 * bn, 2, 1, d, false),
        bwd_problem(1, bm + 40, 40, 2, 2, d, true),
    };
    for (const BwdProblem& p : ps) {
      const BwdHostInputs in = bwd_inputs(p, seed++);
      run_case(std::string(row->name) + " (tiny)", p, in, bwd_reference(p, in), true);
    }
  }
  print_worst();
}

namespace {
// bf16 element (key j, query q) of a dS^T / P^T tile image (elementwise.ptxh's layout).
float tile_elem(const std::vector<uint8_t>& img, std::size_t base, int bn, int j, int q) {
  const std::size_t off = base + std::size_t(q / 64) * bn * 128 + std::size_t(j) * 128 +
                          std::size_t(((q % 64) / 8) ^ (j % 8)) * 16 + std::size_t(q % 8) * 2;
  uint16_t b;
  std::memcpy(&b, img.data() + off, 2);
  return ptxfmha::bf16_to_float(b);
}
}  // namespace

TEST_CASE("gpu bwd: debug dump of CTA (0,0,0)'s first m-block: dS^T, P^T, dQ partial against the CPU" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  uint64_t seed = 200;
  for (int d : bwd_head_dims()) {
    const ptxfmha::KernelInfo* row = main_row(d);
    const int bm = row->block_m, bn = row->block_n;
    for (int causal = 0; causal <= 1; ++causal) {
      // Two n-blocks and two m-blocks, a residue in both; causal with seqlen_q > seqlen_k so
      // that the first m-block of n-block 0 is not 0 when bm divides the difference.
      const BwdProblem p = causal ? bwd_problem(1, 2 * bm + 5, bm + 3, 1, 1, d, true)
                                  : bwd_problem(1, bm + 7, bn + 9, 1, 1, d, false);
      CAPTURE(describe(p));
      const BwdHostInputs in = bwd_inputs(p, seed++);
      const BwdReference ref = bwd_reference(p, in);
      BwdDeviceCase dc(p, in);
      DeviceBuffer dbg(static_cast<std::size_t>(ptxfmha::bwd_debug_bytes(*row)));
      dbg.fill32(0, dbg.bytes() / 4);
      BwdOutputs out;
      dc.run(&out, false, nullptr, dbg.ptr());
      std::vector<uint8_t> img;
      dbg.download(img, dbg.bytes());
      // The m-block the dump is of: m_first of n-block 0, query head 0.
      const int shift = p.seqlen_k - p.seqlen_q;
      const int m_first = p.causal ? std::max(0, -shift) / bm : 0;
      const double scale = p.scale();
      auto f = [](uint16_t x) { return double(ptxfmha::bf16_to_float(x)); };
      // CPU dS^T, P^T of keys 0..bn-1 x queries m_first*bm ..
      std::vector<double> P(std::size_t(bn) * bm, 0.0), dS(P.size(), 0.0);
      double ds_max = 0;
      for (int j = 0; j < bn; ++j)
        for (int c = 0; c < bm; ++c) {
          const int q = m_first * bm + c;
          if (j >= p.seqlen_k || q >= p.seqlen_q) continue;
          if (p.causal && j > q + shift) continue;
          const float lse = in.lse[std::size_t(q)];
          if (std::isinf(lse)) continue;
          double s = 0, dp = 0;
          for (int e = 0; e < d; ++e) {
            s += f(in.q[std::size_t(elem_index(p.q, 0, q, 0, e))]) * f(in.k[std::size_t(elem_index(p.k, 0, j, 0, e))]);
            dp += f(in.dout[std::size_t(elem_index(p.dout, 0, q, 0, e))]) * f(in.v[std::size_t(elem_index(p.v, 0, j, 0, e))]);
          }
          const double pv = std::exp(scale * s - double(lse));
          P[std::size_t(j) * bm + c] = pv;
          dS[std::size_t(j) * bm + c] = pv * (dp - ref.dsum[std::size_t(q)]);
          ds_max = std::max(ds_max, std::fabs(dS[std::size_t(j) * bm + c]));
        }
      // dS^T tile: bf16 of the fp32 result; tolerance bf16 rounding + fp32 noise.
      long long bad_ds = 0;
      std::string first_ds;
      for (int j = 0; j < bn; ++j)
        for (int c = 0; c < bm; ++c) {
          const double got = tile_elem(img, 0, bn, j, c), want = dS[std::size_t(j) * bm + c];
          if (!(std::fabs(got - want) <= 1e-3 * ds_max + 8e-3 * std::fabs(want))) {
            if (bad_ds++ == 0)
              first_ds = "key " + std::to_string(j) + " query " + std::to_string(m_first * bm + c) + ": got " +
                         std::to_string(got) + " ref " + std::to_string(want);
          }
        }
      CHECK_MESSAGE(bad_ds == 0, str(row->name) << ": dS^T tile of the first m-block: " << bad_ds
                                           << " wrong elements, first " << first_ds
                                           << " (S^T/dP^T GEMMs, LSE/D rows, mask or the tile's layout)");
      if (d == 256) {  // P^T goes through shared memory only at head dim 256
        long long bad_p = 0;
        std::string first_p;
        for (int j = 0; j < bn; ++j)
          for (int c = 0; c < bm; ++c) {
            const double got = tile_elem(img, std::size_t(bn) * bm * 2, bn, j, c), want = P[std::size_t(j) * bm + c];
            if (!(std::fabs(got - want) <= 1e-4 + 8e-3 * want) && bad_p++ == 0)
              first_p = "key " + std::to_string(j) + " query " + std::to_string(m_first * bm + c) + ": got " +
                        std::to_string(got) + " ref " + std::to_string(want);
          }
        CHECK_MESSAGE(bad_p == 0, str(row->name) << ": P^T tile: " << bad_p << " wrong, first " << first_p);
      }
      // dQ partial of this CTA = (the kernel's own bf16 dS) K over the n-block's keys: checks
      // the dQ GEMM (transposed dS^T A operand, K^T B operand) and the staging order alone.
      const bool rows_by_wg = SM90_BWD_DQ_ROWS_BY_WG(bm);
      const int dq_n = SM90_BWD_DQ_N(d, bm);
      double num = 0, den = 0;
      long long bad_q = 0;
      std::string first_q;
      std::vector<double> want(std::size_t(bm) * d, 0.0);
      double wmax = 0;
      for (int c = 0; c < bm; ++c)
        for (int e = 0; e < d; ++e) {
          double acc = 0;
          for (int j = 0; j < std::min(bn, p.seqlen_k); ++j)
            acc += double(tile_elem(img, 0, bn, j, c)) * f(in.k[std::size_t(elem_index(p.k, 0, j, 0, e))]);
          want[std::size_t(c) * d + e] = acc;
          wmax = std::max(wmax, std::fabs(acc));
        }
      const std::size_t base = std::size_t(bn) * bm * 2 * 2;
      for (int wg = 0; wg < 2; ++wg)
        for (int t = 0; t < 128; ++t)
          for (int v = 0; v < dq_n / 8; ++v)
            for (int j = 0; j < 4; ++j) {
              int r = 16 * (t / 32) + (t % 32) / 4 + (j >= 2 ? 8 : 0), col = 8 * v + 2 * (t % 4) + (j % 2);
              if (rows_by_wg) r += 64 * wg; else col += dq_n * wg;
              float x;
              std::memcpy(&x, img.data() + base + (std::size_t(wg) * 64 * dq_n + std::size_t(v * 128 + t) * 4 + j) * 4, 4);
              const double w = want[std::size_t(r) * d + col];
              num += (x - w) * (x - w);
              den += w * w;
              if (!(std::fabs(x - w) <= 1e-4 * wmax + 1e-4 * std::fabs(w)) && bad_q++ == 0)
                first_q = "row " + std::to_string(m_first * bm + r) + " col " + std::to_string(col) + ": got " +
                          std::to_string(x) + " ref " + std::to_string(w);
            }
      CHECK_MESSAGE(bad_q == 0, str(row->name) << ": dQ partial of the first m-block: " << bad_q << " wrong, first "
                                          << first_q << ", rel_l2 " << std::sqrt(num / std::max(den, 1e-300))
                                          << " (dQ GEMM operands or the staging order)");
      MESSAGE(str(row->name) << " debug dump " << std::string(causal ? "causal" : "non-causal") << ": dS^T wrong " << bad_ds
                        << ", dQ partial wrong " << bad_q);
    }
  }
}

TEST_CASE("gpu bwd: sweep head dims x causal x seqlen_q x seqlen_k x GQA {1,4,8}, both modes" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  const int lens[] = {1, 17, 64, 129, 255, 700};
  int cases = 0, failed = 0;
  for (int d : bwd_head_dims())
    for (int causal = 0; causal <= 1; ++causal)
      for (int gqa : {1, 4})
        for (int sq : lens)
          for (int sk : lens) {
            const int batch = (int64_t(sq) * sk <= 255 * 255) ? 2 : 1;
            const bool det = ((sq + sk + gqa + causal) % 2) == 0;
            BwdProblem p = bwd_problem(batch, sq, sk, 4, 4 / gqa, d, causal != 0, det);
            const uint64_t seed = 0xB0D ^ (uint64_t(d) << 40) ^ (uint64_t(causal) << 36) ^ (uint64_t(gqa) << 32) ^
                                  (uint64_t(sq) << 16) ^ uint64_t(sk);
            const BwdHostInputs in = bwd_inputs(p, seed);
            ++cases;
            if (!run_case(std::string(main_row(d)->name) + " (sweep)", p, in, bwd_reference(p, in), sq * sk <= 255 * 255,
                          "", true))
              ++failed;
          }
  // GQA 8 (one KV head for 8 query heads), causal and not, a few lengths.
  for (int d : bwd_head_dims())
    for (int causal = 0; causal <= 1; ++causal)
      for (int s : {77, 300}) {
        BwdProblem p = bwd_problem(1, s, s + 31, 8, 1, d, causal != 0, causal != 0);
        const BwdHostInputs in = bwd_inputs(p, 0x88 + s + d + causal);
        ++cases;
        if (!run_case(std::string(main_row(d)->name) + " (sweep GQA 8)", p, in, bwd_reference(p, in), true, "", true))
          ++failed;
      }
  MESSAGE("gpu bwd sweep: " << cases << " cases, " << failed << " failed");
  print_worst();
}

TEST_CASE("gpu bwd: deterministic mode bitwise identical over 3 runs on many n-blocks; fast mode within bounds" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  uint64_t seed = 300;
  for (int d : bwd_head_dims())
    for (int causal = 0; causal <= 1; ++causal) {
      // 16 (d64, d128) or 32 (d256) n-blocks add to every m-block of dQ.
      BwdProblem p = bwd_problem(2, 1024, 2048, 4, 2, d, causal != 0, true);
      const BwdHostInputs in = bwd_inputs(p, seed++);
      const BwdReference ref = bwd_reference(p, in);
      run_case(std::string(main_row(d)->name) + " (deterministic)", p, in, ref, false);
      p.deterministic = false;
      BwdDeviceCase dc(p, in);
      BwdOutputs a, b;
      dc.run(&a);
      dc.run(&b);
      const BwdFigures f = evaluate_bwd(p, a, ref);
      CHECK_MESSAGE(bwd_failure(p, f).empty(), str(main_row(d)->name) << " fast mode " << describe(p) << ": " << bwd_failure(p, f));
      MESSAGE(str(main_row(d)->name) << " fast mode, causal=" << causal << ": dQ bitwise equal over 2 runs: "
                                << std::string(a.dq == b.dq ? "yes" : "no (unordered fp32 adds, expected)"));
    }
}

// The rotated m-block walk (setup.ptxh "Rotated walk": plain rows, not causal, num_n_blocks <=
// num_m_blocks) with programmatic dependent launch (kernel.ptxh), against the ascending walk
// fully serialized (PTXFMHA_BWD_ROTATE=0, PTXFMHA_BWD_PDL=0; bwd_rotate_walk, bwd.cpp): both
// match the reference and each is bitwise reproducible in deterministic mode (its own order).
TEST_CASE("gpu bwd: rotated walk with PDL and ascending walk serialized both match the reference, deterministic per walk" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  uint64_t seed = 350;
  const char* names[2] = {"PTXFMHA_BWD_ROTATE", "PTXFMHA_BWD_PDL"};
  std::string saved[2];
  bool had[2];
  for (int i = 0; i < 2; ++i) {
    const char* v = std::getenv(names[i]);
    had[i] = v != nullptr;
    saved[i] = v ? v : "";
  }
  for (int d : bwd_head_dims())
    for (const auto& lens : {std::pair<int, int>{1024, 1024}, std::pair<int, int>{1000, 700}, std::pair<int, int>{513, 129}})
      for (int det = 0; det <= 1; ++det) {
        const BwdProblem p = bwd_problem(1, lens.first, lens.second, 4, 2, d, false, det != 0);
        const BwdHostInputs in = bwd_inputs(p, seed++);
        const BwdReference ref = bwd_reference(p, in);
        BwdOutputs rotated, ascending;
        for (int walk = 0; walk < 2; ++walk) {
          for (const char* n : names) {
            if (walk == 0)
              unsetenv(n);
            else
              setenv(n, "0", 1);
          }
          run_case(str(main_row(d)->name) + (walk == 0 ? " (rotated walk, PDL)" : " (ascending walk, serialized)"), p, in,
                   ref, false);
          BwdDeviceCase dc(p, in);
          dc.run(walk == 0 ? &rotated : &ascending);
        }
        if (det)
          MESSAGE(str(main_row(d)->name) << " " << describe(p) << ": deterministic dQ of the two walks "
                                         << std::string(rotated.dq == ascending.dq ? "bitwise equal"
                                                                                   : "differ in the last bits (add order)"));
      }
  for (int i = 0; i < 2; ++i) {
    if (had[i])
      setenv(names[i], saved[i].c_str(), 1);
    else
      unsetenv(names[i]);
  }
  print_worst();
}

// Small and odd shapes for compute-sanitizer (tools/gpu-check.sh style: run this test case
// alone under memcheck, racecheck, synccheck and initcheck): one tile; residues with causal
// masking and GQA 4; rows without keys; padded strides in every tensor; both modes.
TEST_CASE("gpu bwd: sanitizer shapes (small, odd, residue tiles, causal, GQA, padded strides)" *
          doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  uint64_t seed = 400;
  for (int d : bwd_head_dims()) {
    std::vector<BwdProblem> ps;
    ps.push_back(bwd_problem(1, 128, 128, 2, 2, d, false, false));
    ps.push_back(bwd_problem(2, 129, 200, 4, 1, d, true, true));
    ps.push_back(bwd_problem(1, 200, 77, 2, 1, d, true, false));
    ps.push_back(bwd_problem(1, 300, 256, 2, 2, d, false, true));  // rotated walk, 2-4 n-blocks
    BwdProblem padded = bwd_problem(1, 65, 131, 4, 2, d, false, true);
    padded.q = make_layout(1, 65, 4, d, Order::BSHD, 8, 16, 0);
    padded.o = make_layout(1, 65, 4, d, Order::BHSD, 8, 0, 0);
    padded.dout = make_layout(1, 65, 4, d, Order::BSHD, 0, 8, 0);
    padded.dq = make_layout(1, 65, 4, d, Order::BSHD, 8, 24, 0);
    padded.k = make_layout(1, 131, 2, d, Order::BHSD, 8, 0, 0);
    padded.v = make_layout(1, 131, 2, d, Order::BSHD, 0, 8, 0);
    padded.dk = make_layout(1, 131, 2, d, Order::BSHD, 16, 8, 0);
    padded.dv = make_layout(1, 131, 2, d, Order::BHSD, 8, 8, 0);
    ps.push_back(padded);
    // The ext kernel (serving features): a band with CTAs no query reaches, softcap, ALiBi,
    // sinks, GQA 4, deterministic; and one query row against many keys (most CTAs empty).
    BwdProblem ext = bwd_problem(1, 133, 201, 4, 1, d, true, true);
    ext.window_left = 24;
    ext.softcap = 4.0f;
    ext.alibi = {0.5f, 0.25f, 0.125f, 0.0625f};
    ext.sinks = {0.5f, -1.0f, 0.0f, 2.0f};
    ps.push_back(ext);
    BwdProblem band = bwd_problem(1, 1, 300, 2, 2, d, false, false);
    band.window_left = 3;
    band.window_right = 2;
    ps.push_back(band);
    for (const BwdProblem& p : ps) {
      const BwdHostInputs in = bwd_inputs(p, seed++);
      run_case(std::string(main_row(d)->name) + " (sanitizer shapes)", p, in, bwd_reference(p, in), !p.has_features());
    }
  }
  print_worst();
}

TEST_CASE("gpu bwd: a bad argument writes nothing (outputs stay poisoned)" * doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  const int d = bwd_head_dims().front();
  const BwdProblem p = bwd_problem(1, 70, 90, 2, 1, d, true);
  const BwdHostInputs in = bwd_inputs(p, 500);
  BwdDeviceCase dc(p, in);
  struct Case { const char* what; ptxfmha_status st; void (*mutate)(ptxfmha_bwd_params&); };
  const Case cases[] = {
      {"dq misaligned", PTXFMHA_ERR_MISALIGNED_POINTER, [](ptxfmha_bwd_params& a) { a.dq = static_cast<char*>(a.dq) + 2; }},
      {"workspace too small", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& a) { a.workspace_bytes -= 256; }},
      {"dv aliasing dk", PTXFMHA_ERR_ALIASING, [](ptxfmha_bwd_params& a) { a.dv = a.dk; }},
      {"head_dim without kernels", PTXFMHA_ERR_UNSUPPORTED_HEAD_DIM, [](ptxfmha_bwd_params& a) { a.head_dim = 32; }},
      {"lse not device memory", PTXFMHA_ERR_INVALID_ARGUMENT, [](ptxfmha_bwd_params& a) {
         static float host_lse[1024];
         a.lse = host_lse;
       }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    dc.poison();
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    ptxfmha_bwd_params a = dc.params();
    c.mutate(a);
    CHECK(ptxfmha_bwd(&a) == c.st);
    PTXFMHA_CU_CHECK(cu().cuCtxSynchronize());
    BwdOutputs out;
    dc.download(&out);
    auto all_poison = [](const std::vector<uint16_t>& x) {
      return std::all_of(x.begin(), x.end(), [](uint16_t v) { return v == kPoisonBf16; });
    };
    CHECK(all_poison(out.dq));
    CHECK(all_poison(out.dk));
    CHECK(all_poison(out.dv));
  }
}

TEST_CASE("gpu bwd: a call on a non-blocking stream" * doctest::test_suite("gpu-sm90a")) {
  REQUIRE(ensure_context());
  CUstream s = nullptr;
  PTXFMHA_CU_CHECK(cu().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  for (int d : bwd_head_dims()) {
    const BwdProblem p = bwd_problem(1, 300, 260, 4, 2, d, true, true);
    const BwdHostInputs in = bwd_inputs(p, 600 + d);
    const BwdReference ref = bwd_reference(p, in);
    BwdDeviceCase dc(p, in);
    BwdOutputs out;
    dc.run(&out, false, s);
    const BwdFigures f = evaluate_bwd(p, out, ref);
    CHECK_MESSAGE(bwd_failure(p, f).empty(), str(main_row(d)->name) << " on a stream: " << bwd_failure(p, f));
  }
  PTXFMHA_CU_CHECK(cu().cuStreamDestroy(s));
}
