// CPU model of the backward main kernel's deterministic dQ add order (ptx/body/sm90_bwd/:
// SETUP's n-block mapping in setup.ptxh, ORDER_PLACE and WRITER_SPIN in dq_writer.ptxh), in
// the kernel's u32 arithmetic, for every main row of the kernel table (each (block_m, block_n))
// over many (seqlen_q, seqlen_k), causal (bottom-right) or not:
//   n_block   ctaid.x, or num_n_blocks - 1 - ctaid.x in deterministic causal mode
//   m_first   causal ? max(n0 - shift, 0) >> LOG2_BLOCK_M : 0 (the m-blocks the CTA visits:
//             m_first .. num_m_blocks - 1, for each query head of its GQA group)
//   place     n, or with causal min(num_n_blocks - 1, ((m + 1) BLOCK_M - 1 + shift) >>
//             LOG2_BLOCK_N) - n: the semaphore value the CTA waits for before adding
// Checked:
//   - the places of the CTAs that visit an m-block are 0 .. k-1, once each (k contributors;
//     m-blocks no key is visible to have none);
//   - with causal the places follow arrival: a CTA that reaches the m-block after fewer of
//     its own m-blocks has the lower place; in a lockstep run (every CTA resident, one m-block
//     per tick) no causal CTA ever waits;
//   - the semaphore protocol (wait for place, add, increment) completes with 1, 2, 3 or 5
//     CTA slots filled in launch order (no deadlock: every CTA waits only on CTAs launched
//     before it), and every contributor adds once.
// Mutations that must be caught: ascending order with causal, n_last one block too high or
// too low, no reversed n-block mapping in deterministic causal mode.
// Rotated walk (B_ROTATE; setup.ptxh "Rotated walk", config.ptxh SETUP_ROT): not causal, plain,
// n < num_m_blocks: CTA n walks each head's m-blocks from m-block n, wrapping, and its place
// at m-block m is (min(m, N - 1) - n) mod N (N = num_n_blocks). Checked as above (places a
// permutation, equal to the arrival order, no waits in lockstep, no deadlock with the N CTAs
// of a group resident), plus: with fewer than N slots it can deadlock (why the host requires
// N <= the SM count, bwd_rotate_walk), and the host rule itself.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "bwd.h"
#include "launch.h"
#include "gpu_util.h"

namespace {

enum class OrderMutation {
  None, AscendingCausal, NLastPlusOne, NLastMinusOne, NoReversedLaunch, NLoPlusOne, MEndMinusOne,
  RotatedAscending,  // rotated walk with the ascending places
  RotatedMinN,       // rotated places with min(m, N) instead of min(m, N - 1)
};

int log2_of(int x) {
  int l = 0;
  while ((1 << l) < x) ++l;
  return l;
}

constexpr int32_t kUnbounded = INT32_MAX;  // a window side without a bound (host-normalised)

// A problem through the plain kernel (ext false: causal or not) or the ext kernel (window
// sides wl / wr as the host normalises them: kUnbounded, or a bound; causal = wr 0).
struct Problem {
  int bm, bn, sq, sk;
  bool causal;
  int ratio = 1, groups = 1;  // query heads per KV head; (KV head, batch) groups
  OrderMutation mut = OrderMutation::None;
  bool ext = false;
  int32_t wl = kUnbounded, wr = kUnbounded;
  bool rotate = false;  // B_ROTATE as the host sets it (SETUP_ROT decides per CTA: rotated())
  int nm() const { return (sq + bm - 1) / bm; }
  int nn() const { return (sk + bn - 1) / bn; }
  bool right_bounded() const { return ext ? wr != kUnbounded : causal; }
  // SETUP_ROT (config.ptxh): plain rows, not causal, num_n_blocks <= num_m_blocks (the whole
  // grid or none).
  bool rotated(uint32_t) const { return rotate && !ext && !causal && nn() <= nm(); }
};

int32_t sat(int64_t x) { return int32_t(std::max<int64_t>(INT32_MIN, std::min<int64_t>(INT32_MAX, x))); }

// SETUP (setup.ptxh), deterministic mode.
uint32_t n_block_of(const Problem& p, uint32_t ctaid_x) {
  const bool reverse = p.right_bounded() && p.mut != OrderMutation::NoReversedLaunch;
  return reverse ? uint32_t(p.nn()) - 1 - ctaid_x : ctaid_x;
}

// SETUP (plain) / SETUP_RANGE_EXT (features.ptxh): the CTA's m-blocks m_first .. m_end - 1.
uint32_t m_first_of(const Problem& p, uint32_t n) {
  const uint32_t shift = uint32_t(p.sk) - uint32_t(p.sq);
  const uint32_t n0 = n << log2_of(p.bn);
  if (p.ext) {
    const int32_t t0 = std::max(sat(int64_t(int32_t(n0 - shift)) - p.wr), 0);
    return uint32_t(t0) >> log2_of(p.bm);
  }
  if (!p.causal) return 0;
  const uint32_t t0 = uint32_t(std::max(int32_t(n0 - shift), int32_t(0)));  // max.s32
  return t0 >> log2_of(p.bm);
}
uint32_t m_end_of(const Problem& p, uint32_t n) {
  if (!p.ext) return uint32_t(p.nm());
  const uint32_t shift = uint32_t(p.sk) - uint32_t(p.sq);
  const uint32_t n0 = n << log2_of(p.bn);
  const int32_t t0 = sat(int64_t(int32_t(n0 + uint32_t(p.bn) - 1 - shift)) + p.wl);
  if (t0 < 0) return 0;
  const int end = (t0 >> log2_of(p.bm)) + (p.mut == OrderMutation::MEndMinusOne ? 0 : 1);
  return uint32_t(std::min(end, p.nm()));
}
bool visits(const Problem& p, uint32_t n, uint32_t m) { return m_first_of(p, n) <= m && m < m_end_of(p, n); }
// SETUP_ROT: the first m-block of each head's walk.
uint32_t m_rot_of(const Problem& p, uint32_t n) { return p.rotated(n) ? n : m_first_of(p, n); }
// The step (0-based, within one head) at which CTA n reaches m-block m (NEXT_MBLOCK's walk).
uint32_t step_of(const Problem& p, uint32_t n, uint32_t m) {
  const uint32_t first = m_first_of(p, n), len = m_end_of(p, n) - first, rot = m_rot_of(p, n);
  return (m - first + len - (rot - first)) % len;
}

// ORDER_PLACE / ORDER_PLACE_EXT (dq_writer.ptxh, features.ptxh).
uint32_t place_of(const Problem& p, uint32_t m, uint32_t n) {
  const uint32_t shift = uint32_t(p.sk) - uint32_t(p.sq);
  if (p.rotated(n) && p.mut != OrderMutation::RotatedAscending) {  // ORDER_PLACE, rotated
    const uint32_t N = uint32_t(p.nn());
    const uint32_t mm = std::min(m, p.mut == OrderMutation::RotatedMinN ? N : N - 1);
    return mm < n ? mm - n + N : mm - n;
  }
  if (!p.right_bounded() || p.mut == OrderMutation::AscendingCausal) {
    if (!p.ext) return n;
    const int32_t lo = std::max(sat(int64_t(int32_t((m << log2_of(p.bm)) + shift)) - p.wl), 0);
    return n - (uint32_t(lo) >> log2_of(p.bn)) - (p.mut == OrderMutation::NLoPlusOne ? 1u : 0u);
  }
  uint32_t t1 = ((m + 1) << log2_of(p.bm)) + shift - 1;
  if (p.ext) t1 += uint32_t(p.wr);
  t1 >>= log2_of(p.bn);
  if (p.mut == OrderMutation::NLastPlusOne) t1 += 1;
  if (p.mut == OrderMutation::NLastMinusOne) t1 -= 1;
  t1 = std::min(t1, uint32_t(p.nn()) - 1);
  return t1 - n;
}

std::string describe(const Problem& p) {
  return "BM=" + std::to_string(p.bm) + " BN=" + std::to_string(p.bn) + " Sq=" + std::to_string(p.sq) +
         " Sk=" + std::to_string(p.sk) + " causal=" + std::to_string(int(p.causal)) + " ratio=" +
         std::to_string(p.ratio) + " groups=" + std::to_string(p.groups) +
         (p.ext ? " ext wl=" + std::to_string(p.wl) + " wr=" + std::to_string(p.wr) : std::string()) +
         (p.rotate ? " rotate" : "");
}

// Places of every m-block's contributors are 0 .. k-1 once each; with causal, arrival order.
std::string check_places(const Problem& p) {
  const int nm = p.nm(), nn = p.nn();
  for (int m = 0; m < nm; ++m) {
    std::vector<int> seen(std::size_t(nn) + 2, 0);
    int k = 0;
    for (int n = 0; n < nn; ++n) {
      if (!visits(p, uint32_t(n), uint32_t(m))) continue;
      ++k;
      const uint32_t pl = place_of(p, uint32_t(m), uint32_t(n));
      if (pl >= uint32_t(nn)) return describe(p) + ": m-block " + std::to_string(m) + " n-block " + std::to_string(n) + " place " + std::to_string(int32_t(pl)) + " out of range";
      ++seen[pl];
      if (!p.right_bounded() && !p.rotated(uint32_t(n))) continue;
      for (int n2 = 0; n2 < nn; ++n2) {  // arrival: fewer own m-blocks before m -> lower place
        if (n2 == n || !visits(p, uint32_t(n2), uint32_t(m))) continue;
        const uint32_t s1 = step_of(p, uint32_t(n), uint32_t(m)), s2 = step_of(p, uint32_t(n2), uint32_t(m));
        if (s1 < s2 && !(pl < place_of(p, uint32_t(m), uint32_t(n2))))
          return describe(p) + ": m-block " + std::to_string(m) + ": n-block " + std::to_string(n) +
                 " arrives before n-block " + std::to_string(n2) + " but adds after it";
      }
    }
    for (int i = 0; i < k; ++i)
      if (seen[std::size_t(i)] != 1)
        return describe(p) + ": m-block " + std::to_string(m) + " has " + std::to_string(k) + " contributors but place " +
               std::to_string(i) + " is taken " + std::to_string(seen[std::size_t(i)]) + " times";
  }
  return "";
}

struct SimResult {
  bool deadlock = false, order_error = false;
  long long ticks = 0, waits = 0;
  std::string what;
};

// The semaphore protocol with `slots` resident CTAs (0: all), filled in launch order (linear
// index ctaid.x + nn * group). Per tick every resident CTA tries its next m-block against the
// semaphores of the previous tick: place == semaphore -> add, semaphore + 1, advance; else it
// waits. A tick without progress is a deadlock; at the end every tile's semaphore must equal
// its contributor count (each contributor added once).
SimResult simulate(const Problem& p, int slots) {
  SimResult r;
  const int nm = p.nm(), nn = p.nn();
  const int ctas = nn * p.groups;
  struct Cta {
    uint32_t n;
    int group, hh = 0;
    uint32_t m;
    bool done = false;
  };
  std::vector<Cta> cta;
  for (int i = 0; i < ctas; ++i) {
    Cta c;
    c.group = i / nn;
    c.n = n_block_of(p, uint32_t(i % nn));
    c.m = m_rot_of(p, c.n);
    c.done = m_first_of(p, c.n) >= m_end_of(p, c.n);  // no m-block: dK = dV = 0 only (EMPTY_SKIP)
    cta.push_back(c);
  }
  std::vector<uint32_t> sem(std::size_t(p.groups) * p.ratio * nm, 0);
  auto tile = [&](const Cta& c) { return (std::size_t(c.group) * p.ratio + c.hh) * nm + c.m; };
  int next = 0, finished = 0;
  std::vector<int> resident;
  const int cap = slots == 0 ? ctas : slots;
  while (finished < ctas) {
    bool progress = false;
    while (int(resident.size()) < cap && next < ctas) {
      if (cta[std::size_t(next)].done)
        ++finished;
      else
        resident.push_back(next);
      ++next;
      progress = true;
    }
    const std::vector<uint32_t> before = sem;
    std::vector<int> still;
    for (int i : resident) {
      Cta& c = cta[std::size_t(i)];
      const std::size_t t = tile(c);
      const uint32_t pl = place_of(p, c.m, c.n);
      if (before[t] != pl) {
        ++r.waits;
        still.push_back(i);
        continue;
      }
      // The tile's adds so far were places 0 .. pl-1; this one must be the n-block of place pl.
      ++sem[t];
      progress = true;
      if (++c.m >= m_end_of(p, c.n)) c.m = m_first_of(p, c.n);  // NEXT_MBLOCK: wrap
      if (c.m == m_rot_of(p, c.n)) {                                // back at the start: next head
        if (++c.hh >= p.ratio) {
          c.done = true;
          ++finished;
          continue;
        }
      }
      still.push_back(i);
    }
    resident.swap(still);
    ++r.ticks;
    if (!progress) {
      r.deadlock = true;
      r.what = describe(p) + ": deadlock with " + std::to_string(slots) + " slots after " + std::to_string(r.ticks) +
               " ticks (" + std::to_string(finished) + " of " + std::to_string(ctas) + " CTAs done)";
      return r;
    }
  }
  // Every tile's semaphore ends at its contributor count.
  for (int g = 0; g < p.groups; ++g)
    for (int hh = 0; hh < p.ratio; ++hh)
      for (int m = 0; m < nm; ++m) {
        uint32_t k = 0;
        for (int n = 0; n < nn; ++n) k += visits(p, uint32_t(n), uint32_t(m)) ? 1 : 0;
        if (sem[(std::size_t(g) * p.ratio + hh) * nm + m] != k) {
          r.order_error = true;
          r.what = describe(p) + ": m-block " + std::to_string(m) + " got " +
                   std::to_string(sem[(std::size_t(g) * p.ratio + hh) * nm + m]) + " adds, " + std::to_string(k) + " contributors";
        }
      }
  return r;
}

// Every visible (query, key) pair's n-block visits the query's m-block (window semantics of
// ptxfmha.h; the plain kernel: causal or full).
std::string check_cover(const Problem& p) {
  const int64_t shift = int64_t(p.sk) - p.sq;
  const int64_t wl = p.ext ? p.wl : kUnbounded, wr = p.ext ? p.wr : (p.causal ? 0 : kUnbounded);
  for (int64_t i = 0; i < p.sq; ++i) {
    const int64_t lo = std::max<int64_t>(0, wl == kUnbounded ? 0 : i + shift - wl);
    const int64_t hi = std::min<int64_t>(p.sk - 1, wr == kUnbounded ? p.sk - 1 : i + shift + wr);
    if (lo > hi) continue;
    for (int64_t n = lo / p.bn; n <= hi / p.bn; ++n)
      if (!visits(p, uint32_t(n), uint32_t(i / p.bm)))
        return describe(p) + ": query " + std::to_string(i) + " sees keys of n-block " + std::to_string(n) +
               " but that CTA skips m-block " + std::to_string(i / p.bm);
  }
  return "";
}

// Everything for one problem; "" when it all holds.
std::string check_problem(const Problem& p) {
  std::string why = check_cover(p);
  if (!why.empty()) return why;
  why = check_places(p);
  if (!why.empty()) return why;
  // The rotated order lets a CTA wait on a later-launched one: it needs the N CTAs of a group
  // resident together (the host's N <= SM count), so it is simulated with N or more slots.
  const int nn = p.nn();
  const std::vector<int> slot_counts =
      p.rotated(0) ? std::vector<int>{nn, nn + 1, nn + 3} : std::vector<int>{1, 2, 3, 5};
  for (int slots : slot_counts) {
    const SimResult r = simulate(p, slots);
    if (r.deadlock || r.order_error) return r.what;
  }
  const SimResult all = simulate(p, 0);
  if (all.deadlock || all.order_error) return all.what;
  // Lockstep, seqlen_q == seqlen_k, causal (window_right 0): CTAs reach an m-block strictly
  // in place order (m_first grows with n), so none waits. Elsewhere ties are possible, which
  // any order serialises: seqlen_k > seqlen_q or window_right > 0 clamp the first CTAs'
  // m_first to 0; with a left bound and GQA a later head's walk can reverse the order.
  const bool causal_like = p.ext ? p.wr == 0 : p.causal;
  if (p.sq == p.sk && causal_like && (p.ratio == 1 || p.wl == kUnbounded) && all.waits != 0)
    return describe(p) + ": " + std::to_string(all.waits) + " waits in the lockstep run (causal CTAs should never wait)";
  // Rotated: every CTA starts on its own m-block and finds its predecessors' adds done.
  if (p.rotated(0) && all.waits != 0)
    return describe(p) + ": " + std::to_string(all.waits) + " waits in the lockstep run (rotated CTAs should never wait)";
  return "";
}

const int kLens[] = {1, 2, 63, 64, 65, 127, 128, 129, 200, 255, 256, 257, 383, 700, 1000};

std::vector<std::pair<int, int>> main_tiles() {
  std::vector<std::pair<int, int>> t;
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels())
    if (r->kind == ptxfmha::KernelKind::Bwd) {
      const std::pair<int, int> bmn{r->block_m, r->block_n};
      if (std::find(t.begin(), t.end(), bmn) == t.end()) t.push_back(bmn);
    }
  return t;
}

}  // namespace

TEST_CASE("bwd order model: deterministic dQ places are 0..k-1 per m-block, follow arrival, never deadlock") {
  const auto tiles = main_tiles();
  REQUIRE(tiles.size() >= 3);
  long long problems = 0, failures = 0;
  for (const auto& bmn : tiles)
    for (int causal = 0; causal <= 1; ++causal)
      for (int sq : kLens)
        for (int sk : kLens)
          for (const auto& rg : {std::pair<int, int>{1, 1}, std::pair<int, int>{2, 2}}) {
            Problem p{bmn.first, bmn.second, sq, sk, causal != 0};
            p.ratio = rg.first;
            p.groups = rg.second;
            const std::string why = check_problem(p);
            ++problems;
            if (!why.empty()) ++failures;
            CHECK_MESSAGE(why.empty(), why);
          }
  MESSAGE("bwd order model: " << tiles.size() << " (block_m, block_n) tilings, " << problems << " problems, " << failures
                              << " failed");
}

TEST_CASE("bwd order model: mutations of the order (ascending causal, n_last off by one, no reversed launch) are caught") {
  const auto tiles = main_tiles();
  struct Mut {
    OrderMutation m;
    const char* what;
  };
  const Mut muts[] = {
      {OrderMutation::AscendingCausal, "ascending n-block order with causal"},
      {OrderMutation::NLastPlusOne, "n_last one n-block too high"},
      {OrderMutation::NLastMinusOne, "n_last one n-block too low"},
      {OrderMutation::NoReversedLaunch, "deterministic causal without the reversed n-block mapping"},
  };
  for (const auto& bmn : tiles)
    for (const Mut& mu : muts) {
      std::string first;
      for (int sq : kLens)
        for (int sk : kLens) {
          if (!first.empty()) break;
          Problem p{bmn.first, bmn.second, sq, sk, true};
          p.mut = mu.m;
          first = check_problem(p);
        }
      CHECK_MESSAGE(!first.empty(), "BM=" << bmn.first << " BN=" << bmn.second << ": mutation not caught: " << mu.what);
      MESSAGE("BM=" << bmn.first << " BN=" << bmn.second << " mutation '" << std::string(mu.what) << "' caught: " << first);
    }
}


TEST_CASE("bwd order model: lockstep ticks at 4k causal, descending vs ascending (a model, not a timing)") {
  // Every CTA resident, one m-block per tick: the descending order needs as many ticks as the
  // longest CTA walks (no waits); the ascending order (the kernel before 2026-12-02) is a
  // wavefront through the diagonal CTAs.
  for (const auto& bmn : main_tiles()) {
    Problem p{bmn.first, bmn.second, 4096, 4096, true};
    const SimResult desc = simulate(p, 0);
    p.mut = OrderMutation::AscendingCausal;
    const SimResult asc = simulate(p, 0);
    REQUIRE(!desc.deadlock);
    REQUIRE(!asc.deadlock);
    CHECK(desc.ticks == p.nm());
    CHECK(desc.waits == 0);
    CHECK(asc.ticks > desc.ticks);
    CHECK(asc.waits > 0);
    MESSAGE("BM=" << bmn.first << " BN=" << bmn.second << " 4k causal lockstep: descending " << desc.ticks
                  << " ticks, ascending " << asc.ticks << " ticks (" << asc.waits << " waits)");
  }
}

namespace {

// The host's normalisation (canonical_window, attn.cpp; bwd.cpp): a side as wide as the
// sequence is unbounded (-1 -> kUnbounded).
Problem ext_problem(int bm, int bn, int sq, int sk, int wl, int wr) {
  Problem p{bm, bn, sq, sk, wr == 0};
  p.ext = true;
  p.wl = (wl < 0 || wl >= sk - 1) ? kUnbounded : wl;
  p.wr = (wr < 0 || (wr >= 1 && wr >= sq - 1)) ? kUnbounded : wr;
  return p;
}

const int kExtLens[] = {1, 2, 63, 65, 128, 129, 257, 383, 700};
const std::pair<int, int> kWindows[] = {{-1, 0}, {-1, -1}, {0, 0}, {16, 0}, {100, -1}, {-1, 5}, {3, 7}, {200, 64}, {130, 1}};

}  // namespace

TEST_CASE("bwd order model: ext kernel windows (causal, sliding, one-sided) cover every visible pair, places 0..k-1, no deadlock") {
  const auto tiles = main_tiles();
  long long problems = 0, failures = 0, empty_ctas = 0;
  for (const auto& bmn : tiles)
    for (int sq : kExtLens)
      for (int sk : kExtLens)
        for (const auto& w : kWindows)
          for (const auto& rg : {std::pair<int, int>{1, 1}, std::pair<int, int>{4, 2}}) {
            Problem p = ext_problem(bmn.first, bmn.second, sq, sk, w.first, w.second);
            p.ratio = rg.first;
            p.groups = rg.second;
            for (int n = 0; n < p.nn(); ++n) empty_ctas += m_first_of(p, uint32_t(n)) >= m_end_of(p, uint32_t(n)) ? 1 : 0;
            const std::string why = check_problem(p);
            ++problems;
            if (!why.empty()) ++failures;
            CHECK_MESSAGE(why.empty(), why);
          }
  // An unbounded window is the plain kernel's order exactly: causal and full attention.
  for (const auto& bmn : tiles)
    for (int sq : kExtLens)
      for (int sk : kExtLens)
        for (int causal = 0; causal <= 1; ++causal) {
          const Problem e = ext_problem(bmn.first, bmn.second, sq, sk, -1, causal ? 0 : -1);
          const Problem q{bmn.first, bmn.second, sq, sk, causal != 0};
          for (int m = 0; m < q.nm(); ++m)
            for (int n = 0; n < q.nn(); ++n) {
              const bool ve = visits(e, uint32_t(n), uint32_t(m)), vq = visits(q, uint32_t(n), uint32_t(m));
              CHECK_MESSAGE(ve == vq, describe(e) << ": visit of (n " << n << ", m " << m << ") differs from the plain kernel");
              if (ve && vq)
                CHECK_MESSAGE(place_of(e, uint32_t(m), uint32_t(n)) == place_of(q, uint32_t(m), uint32_t(n)),
                              describe(e) << ": place of (n " << n << ", m " << m << ") differs from the plain kernel");
            }
        }
  CHECK(empty_ctas > 0);  // the CTAs without an m-block were exercised
  MESSAGE("bwd order model (ext): " << problems << " window problems, " << failures << " failed, " << empty_ctas
                                    << " CTAs without an m-block");
}

TEST_CASE("bwd order model: ext mutations (n_lo, n_hi off by one, m_end one short, ascending, no reversal) are caught") {
  const auto tiles = main_tiles();
  const OrderMutation muts[] = {OrderMutation::NLoPlusOne, OrderMutation::NLastPlusOne, OrderMutation::NLastMinusOne,
                                OrderMutation::MEndMinusOne, OrderMutation::AscendingCausal,
                                OrderMutation::NoReversedLaunch};
  for (const auto& bmn : tiles)
    for (OrderMutation mu : muts) {
      std::string first;
      for (int sq : kExtLens)
        for (int sk : kExtLens)
          for (const auto& w : kWindows) {
            if (!first.empty()) break;
            Problem p = ext_problem(bmn.first, bmn.second, sq, sk, w.first, w.second);
            p.mut = mu;
            first = check_problem(p);
          }
      CHECK_MESSAGE(!first.empty(), "BM=" << bmn.first << " BN=" << bmn.second << ": ext mutation " << int(mu) << " not caught");
    }
}

TEST_CASE("bwd order model: the rotated walk (not causal): places 0..k-1 in arrival order, no waits, no deadlock with the group resident") {
  const auto tiles = main_tiles();
  long long problems = 0, failures = 0, rotated = 0;
  for (const auto& bmn : tiles)
    for (int sq : kLens)
      for (int sk : kLens)
        for (const auto& rg : {std::pair<int, int>{1, 1}, std::pair<int, int>{2, 3}, std::pair<int, int>{4, 2}}) {
          Problem p{bmn.first, bmn.second, sq, sk, false};
          p.rotate = true;
          p.ratio = rg.first;
          p.groups = rg.second;
          rotated += p.rotated(0) ? 1 : 0;
          const std::string why = check_problem(p);
          ++problems;
          if (!why.empty()) ++failures;
          CHECK_MESSAGE(why.empty(), why);
        }
  CHECK(rotated > problems / 3);  // most (num_n_blocks <= num_m_blocks) rotate
  MESSAGE("bwd order model (rotated): " << problems << " problems, " << rotated << " rotated, " << failures << " failed");
}

TEST_CASE("bwd order model: rotated-walk mutations (ascending places, min(m, N)) and too few slots are caught") {
  for (const auto& bmn : main_tiles()) {
    for (OrderMutation mu : {OrderMutation::RotatedAscending, OrderMutation::RotatedMinN}) {
      std::string first;
      for (int sq : kLens)
        for (int sk : kLens) {
          if (!first.empty()) break;
          Problem p{bmn.first, bmn.second, sq, sk, false};
          p.rotate = true;
          p.mut = mu;
          first = check_problem(p);
        }
      CHECK_MESSAGE(!first.empty(), "BM=" << bmn.first << " BN=" << bmn.second << ": rotated mutation " << int(mu) << " not caught");
    }
    // 1k x 1k (8 .. 16 n-blocks): fewer slots than the group's CTAs deadlock the rotated order,
    // as many do not; the ascending order runs with one slot.
    Problem p{bmn.first, bmn.second, 1024, 1024, false};
    p.rotate = true;
    REQUIRE(p.rotated(0));
    CHECK(simulate(p, p.nn() - 1).deadlock);
    CHECK(!simulate(p, p.nn()).deadlock);
    p.rotate = false;
    CHECK(!simulate(p, 1).deadlock);
  }
}

TEST_CASE("bwd order model: lockstep at 1k not causal, rotated vs ascending (a model, not a timing)") {
  for (const auto& bmn : main_tiles()) {
    Problem p{bmn.first, bmn.second, 1024, 1024, false};
    const SimResult asc = simulate(p, 0);
    p.rotate = true;
    const SimResult rot = simulate(p, 0);
    REQUIRE(!asc.deadlock);
    REQUIRE(!rot.deadlock);
    CHECK(rot.waits == 0);
    CHECK(rot.ticks == p.nm());
    CHECK(asc.ticks > rot.ticks);
    MESSAGE("BM=" << bmn.first << " BN=" << bmn.second << " 1k lockstep: rotated " << rot.ticks << " ticks, ascending "
                  << asc.ticks << " ticks (" << asc.waits << " waits)");
  }
}

TEST_CASE("bwd_rotate_walk: plain rows, not causal, N <= M and N <= SMs; PTXFMHA_BWD_ROTATE=0 turns it off") {
  CHECK(ptxfmha::bwd_rotate_walk(true, false, 8, 16, 132, false));
  CHECK(ptxfmha::bwd_rotate_walk(true, false, 8, 8, 132, false));
  CHECK(!ptxfmha::bwd_rotate_walk(true, false, 8, 8, 132, true));
  CHECK(!ptxfmha::bwd_rotate_walk(false, false, 8, 16, 132, false));  // ext row
  CHECK(!ptxfmha::bwd_rotate_walk(true, true, 8, 16, 132, false));    // causal
  CHECK(!ptxfmha::bwd_rotate_walk(true, false, 9, 8, 132, false));    // N > M
  CHECK(!ptxfmha::bwd_rotate_walk(true, false, 133, 256, 132, false));  // N > SMs
  CHECK(ptxfmha::bwd_rotate_walk(true, false, 132, 256, 132, false));
  CHECK(!ptxfmha::bwd_rotate_walk(true, false, 0, 8, 132, false));
  // the switch as bwd.cpp reads it: exactly "0" turns it off
  const char* old = std::getenv("PTXFMHA_BWD_ROTATE");
  const std::string saved = old ? old : "";
  unsetenv("PTXFMHA_BWD_ROTATE");
  CHECK(!ptxfmha::env_says_off("PTXFMHA_BWD_ROTATE"));
  setenv("PTXFMHA_BWD_ROTATE", "1", 1);
  CHECK(!ptxfmha::env_says_off("PTXFMHA_BWD_ROTATE"));
  setenv("PTXFMHA_BWD_ROTATE", "0", 1);
  CHECK(ptxfmha::env_says_off("PTXFMHA_BWD_ROTATE"));
  if (old)
    setenv("PTXFMHA_BWD_ROTATE", saved.c_str(), 1);
  else
    unsetenv("PTXFMHA_BWD_ROTATE");
}
