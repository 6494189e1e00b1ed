// Float64 reference attention with every feature of ptxfmha_attn. See
// host/include/ptxfmha/reference.h for the interface and host/include/ptxfmha/ptxfmha.h for
// the semantics; this file is the single implementation reference_fwd also runs.
//
// Per query row i of sequence b and head h (d = i + len_k - len_q, right = causal ? 0 :
// window_right), visible keys are [lo, hi) with
//   lo = window_left  >= 0 ? max(0, d - window_left)          : 0
//   hi = right        >= 0 ? min(len_k, d + right + 1)        : len_k
// and the row streams over them as reference_fwd always did: scores (dot in head-dim order,
// times the scale), then softcap and ALiBi, the max (sink included), the exp-sum (the sink's
// term first), the weighted V sum, O = acc / sum, LSE = m + log(sum). Without features the
// operations and their order are exactly reference_fwd's of before, so its results are
// bitwise unchanged.
//
// Work: one task per (sequence, query head, block of rows), or per (sequence, several query
// heads of one KV head) when the sequence has few rows (decode). A task streams the keys its
// rows can see (the union of their [lo, hi), contiguous because lo and hi grow with i) of its
// KV head in chunks widened to float64 once for all its rows, through the block table when
// paged; each row's operations and their order are those above whatever the task holds.
//
// LSE only (reference_attn_lse): the same tasks, rows, keys and scores, the exp-sum taken
// right after the max in the same key order (so the LSE is bitwise the full pass's), and no
// V read, weighted V sum or O.
#include "reference_attn.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

namespace ptxfmha {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kFewRows = 16;  // query rows per sequence up to which a task holds several heads

struct Seq {
  int64_t q_row0 = 0;  // first output row (fixed: b * seqlen_q; packed: clamped offset)
  int len_q = 0;
  int64_t k_row0 = 0;  // packed K: first key row
  int len_k = 0;
};

void check_problem(const RefAttnProblem& p, const char* who) {
  auto bad = [who](const std::string& m) { throw std::invalid_argument(std::string(who) + ": " + m); };
  if (p.batch < 0 || p.seqlen_q < 0 || p.seqlen_k < 0 || p.head_dim < 0 || p.max_seqlen_q < 0 ||
      p.max_seqlen_k < 0 || p.total_q < 0 || p.total_k < 0)
    bad("negative size");
  if (p.heads_q <= 0 || p.heads_kv <= 0) bad("heads must be > 0");
  if (p.heads_q % p.heads_kv != 0) bad("heads_q must be a multiple of heads_kv");
  const std::size_t B = static_cast<std::size_t>(p.batch);
  if (!p.cu_seqlens_q.empty() && p.cu_seqlens_q.size() != B + 1) bad("cu_seqlens_q must hold batch + 1 entries");
  if (!p.cu_seqlens_k.empty() && p.cu_seqlens_k.size() != B + 1) bad("cu_seqlens_k must hold batch + 1 entries");
  if (!p.seqused_k.empty() && p.seqused_k.size() != B) bad("seqused_k must hold batch entries");
  const std::size_t H = static_cast<std::size_t>(p.heads_q);
  if (!p.sink_logits.empty() && p.sink_logits.size() != H) bad("sink_logits must hold heads_q entries");
  if (!p.alibi_slopes.empty() && p.alibi_slopes.size() != H) bad("alibi_slopes must hold heads_q entries");
  if (p.page_size < 0) bad("page_size must be >= 0");
  if (p.page_size > 0) {
    if (!p.cu_seqlens_k.empty()) bad("paged K/V takes no cu_seqlens_k");
    if (p.max_blocks_per_seq < 1 || int64_t(p.max_blocks_per_seq) * p.page_size < p.seqlen_k)
      bad("max_blocks_per_seq * page_size < seqlen_k");
    if (p.block_table.size() != B * static_cast<std::size_t>(p.max_blocks_per_seq))
      bad("block_table must hold batch * max_blocks_per_seq entries");
  }
  if (p.window_left < -1 || p.window_right < -1) bad("window bounds must be >= -1");
  if (p.causal && p.window_right > 0) bad("causal with window_right > 0");
  if (!p.row_mask.empty()) {
    const std::size_t rows = !p.cu_seqlens_q.empty() ? static_cast<std::size_t>(p.total_q)
                                                     : B * static_cast<std::size_t>(p.seqlen_q);
    if (p.row_mask.size() != rows) bad("row_mask must hold one entry per output row");
  }
  if (!(p.softcap >= 0) || !std::isfinite(p.softcap)) bad("softcap must be finite and >= 0");
}

// The kernels' clamping of the metadata (ptxfmha.h "Device-resident metadata").
std::vector<Seq> resolve(const RefAttnProblem& p) {
  std::vector<Seq> seqs(static_cast<std::size_t>(p.batch));
  auto clamp = [](int64_t x, int64_t lo, int64_t hi) { return std::max(lo, std::min(x, hi)); };
  for (int b = 0; b < p.batch; ++b) {
    Seq& s = seqs[static_cast<std::size_t>(b)];
    if (p.cu_seqlens_q.empty()) {
      s.q_row0 = int64_t(b) * p.seqlen_q;
      s.len_q = p.seqlen_q;
    } else {
      const int64_t start = clamp(p.cu_seqlens_q[b], 0, p.total_q);
      const int64_t end = clamp(p.cu_seqlens_q[b + 1], start, p.total_q);
      s.q_row0 = start;
      s.len_q = static_cast<int>(std::min<int64_t>(end - start, p.max_seqlen_q));
    }
    int64_t cap = p.seqlen_k;
    if (!p.cu_seqlens_k.empty()) {
      const int64_t start = clamp(p.cu_seqlens_k[b], 0, p.total_k);
      const int64_t end = clamp(p.cu_seqlens_k[b + 1], start, p.total_k);
      s.k_row0 = start;
      cap = std::min<int64_t>(end - start, p.max_seqlen_k);
    }
    s.len_k = static_cast<int>(p.seqused_k.empty() ? cap : clamp(p.seqused_k[b], 0, cap));
  }
  return seqs;
}

std::vector<uint8_t> writers_of(const std::vector<Seq>& seqs, std::size_t rows) {
  std::vector<uint8_t> w(rows, 0);
  for (const Seq& s : seqs)
    for (int i = 0; i < s.len_q; ++i) {
      uint8_t& x = w[static_cast<std::size_t>(s.q_row0 + i)];
      if (x < 255) ++x;
    }
  return w;
}

// A task: rows [i0, i1) of sequence b for the query heads [h0, h1), which share one KV head.
struct Task {
  int b, h0, h1, i0, i1;
};

// One query row of a task: where it writes, the keys it sees and its running softmax state.
struct RowState {
  int h = 0, i = 0;  // query head, row of the sequence
  int64_t lo = 0, hi = 0, diag = 0;
  double slope = 0, sink = 0, m = 0, sum = 0;
  double* o = nullptr;
  double* lse = nullptr;
};

// v == nullptr: LSE only (r->o is empty and stays so).
class Worker {
 public:
  Worker(const RefAttnProblem& p, const std::vector<Seq>& seqs, const uint16_t* q, const uint16_t* k,
         const uint16_t* v, RefAttnResult* r, int64_t score_budget)
      : p_(p), seqs_(seqs), q_(q), k_(k), v_(v), r_(r), lse_only_(v == nullptr),
        right_(p.causal ? 0 : p.window_right), D_(static_cast<std::size_t>(p.head_dim)), score_budget_(score_budget) {}

  // The task's rows (head-major) in blocks whose scores fit the score budget; each block streams
  // its keys in chunks of kChunkKeys widened to float64 once for all of its rows (the rows of
  // a decode task are the few query tokens of every head sharing the KV head, so a 128k-key
  // cache is read and widened once per block, not once per row). Every row still computes
  // exactly the operations, in the order, of the per-row stream described at the top.
  void run(const Task& t) {
    const Seq& s = seqs_[static_cast<std::size_t>(t.b)];
    rows_.clear();
    for (int h = t.h0; h < t.h1; ++h)
      for (int i = t.i0; i < t.i1; ++i) {
        RowState rs;
        if (start_row(t.b, s, h, i, &rs)) rows_.push_back(rs);
      }
    std::size_t first = 0;
    while (first < rows_.size()) {
      int64_t lo = rows_[first].lo, hi = rows_[first].hi;
      std::size_t last = first + 1;
      for (; last < rows_.size(); ++last) {
        const int64_t nlo = std::min(lo, rows_[last].lo), nhi = std::max(hi, rows_[last].hi);
        if (static_cast<int64_t>(last + 1 - first) * (nhi - nlo) > score_budget_) break;
        lo = nlo;
        hi = nhi;
      }
      run_block(t.b, s, first, last, lo, hi);
      first = last;
    }
  }

 private:
  // Row i of head h: fills its state and returns true when it has keys to stream; rows that are
  // not sampled or see no key are finished here.
  bool start_row(int b, const Seq& s, int h, int i, RowState* rs) {
    const bool varlen = !p_.cu_seqlens_q.empty();
    const int64_t row = s.q_row0 + i;
    rs->h = h;
    rs->i = i;
    rs->o = lse_only_ ? nullptr : r_->o.data() + (static_cast<std::size_t>(row) * p_.heads_q + h) * D_;
    rs->lse = r_->lse.data() + (varlen ? static_cast<std::size_t>(h) * p_.total_q + row
                                       : (static_cast<std::size_t>(b) * p_.heads_q + h) * p_.seqlen_q + i);
    rs->diag = int64_t(i) + s.len_k - s.len_q;
    rs->lo = p_.window_left >= 0 ? std::max<int64_t>(0, rs->diag - p_.window_left) : 0;
    rs->hi = right_ >= 0 ? std::min<int64_t>(s.len_k, rs->diag + right_ + 1) : s.len_k;
    if (h == 0) r_->visible[static_cast<std::size_t>(row)] = static_cast<int32_t>(rs->hi > rs->lo ? rs->hi - rs->lo : 0);
    const bool has_sink = !p_.sink_logits.empty();
    rs->sink = has_sink ? double(p_.sink_logits[static_cast<std::size_t>(h)]) : 0.0;
    rs->slope = !p_.alibi_slopes.empty() ? double(p_.alibi_slopes[static_cast<std::size_t>(h)]) : 0.0;
    if (!p_.row_mask.empty() && p_.row_mask[static_cast<std::size_t>(row)] == 0) return false;  // not sampled
    if (rs->lo >= rs->hi) {  // no visible key
      if (!lse_only_) std::fill(rs->o, rs->o + D_, 0.0);
      *rs->lse = has_sink ? rs->sink : -kInf;
      return false;
    }
    return true;
  }

  // Rows [first, last) of rows_, whose keys lie in [lo, hi): the scores, the max, the exp-sum
  // with the weighted V sum, O and LSE (LSE only: the exp-sum alone, then the LSE).
  void run_block(int b, const Seq& s, std::size_t first, std::size_t last, int64_t lo, int64_t hi) {
    const std::size_t n = last - first, nk = static_cast<std::size_t>(hi - lo);
    const int kvh = rows_[first].h / (p_.heads_q / p_.heads_kv);
    const bool has_sink = !p_.sink_logits.empty();
    const bool has_alibi = !p_.alibi_slopes.empty();
    qd_.resize(n * D_);
    sc_.resize(n * nk);
    if (!lse_only_) acc_.assign(n * D_, 0.0);
    for (std::size_t r = 0; r < n; ++r) {
      const RowState& rs = rows_[first + r];
      const uint16_t* qr = !p_.cu_seqlens_q.empty()
                               ? q_ + (s.q_row0 + rs.i) * p_.q_stride[1] + int64_t(rs.h) * p_.q_stride[2]
                               : q_ + int64_t(b) * p_.q_stride[0] + int64_t(rs.i) * p_.q_stride[1] +
                                     int64_t(rs.h) * p_.q_stride[2];
      for (std::size_t d = 0; d < D_; ++d) qd_[r * D_ + d] = bf16_to_float(qr[d]);
    }
    for (int64_t j0 = lo; j0 < hi; j0 += kChunkKeys) {  // scores
      const int64_t j1 = std::min(hi, j0 + kChunkKeys);
      widen(k_, p_.k_stride, b, s, kvh, j0, j1);
      for (std::size_t r = 0; r < n; ++r) {
        const RowState& rs = rows_[first + r];
        const double* qd = &qd_[r * D_];
        double* sc = &sc_[r * nk] - lo;
        for (int64_t j = std::max(j0, rs.lo); j < std::min(j1, rs.hi); ++j) {
          const double* kdr = &chunk_[static_cast<std::size_t>(j - j0) * D_];
          // Four partial sums: a chain of D dependent double adds would bound the reference by
          // add latency (it checks every decode cell of the bench, up to 128k keys).
          double part[4] = {0, 0, 0, 0};
          std::size_t d = 0;
          for (; d + 4 <= D_; d += 4)
            for (int u = 0; u < 4; ++u) part[u] += qd[d + u] * kdr[d + u];
          for (; d < D_; ++d) part[0] += qd[d] * kdr[d];
          const double dot = (part[0] + part[1]) + (part[2] + part[3]);
          double x = dot * p_.softmax_scale;
          if (p_.softcap > 0) x = p_.softcap * std::tanh(x / p_.softcap);
          if (has_alibi) x -= rs.slope * double(std::llabs(rs.diag - j));
          sc[j] = x;
        }
      }
    }
    for (std::size_t r = 0; r < n; ++r) {  // the max (sink included), the sink's exp term
      RowState& rs = rows_[first + r];
      const double* sc = &sc_[r * nk] - lo;
      double m = -kInf;
      for (int64_t j = rs.lo; j < rs.hi; ++j) m = std::max(m, sc[j]);
      if (has_sink) m = std::max(m, rs.sink);
      rs.m = m;
      rs.sum = has_sink ? std::exp(rs.sink - m) : 0.0;
      if (lse_only_)  // the loop below's additions, in its order, without V
        for (int64_t j = rs.lo; j < rs.hi; ++j) rs.sum += std::exp(sc[j] - m);
    }
    if (!lse_only_) {
      for (int64_t j0 = lo; j0 < hi; j0 += kChunkKeys) {  // exp-sum and weighted V sum
        const int64_t j1 = std::min(hi, j0 + kChunkKeys);
        widen(v_, p_.v_stride, b, s, kvh, j0, j1);
        for (std::size_t r = 0; r < n; ++r) {
          RowState& rs = rows_[first + r];
          const double* sc = &sc_[r * nk] - lo;
          double* acc = &acc_[r * D_];
          for (int64_t j = std::max(j0, rs.lo); j < std::min(j1, rs.hi); ++j) {
            const double w = std::exp(sc[j] - rs.m);
            rs.sum += w;
            const double* vdr = &chunk_[static_cast<std::size_t>(j - j0) * D_];
            for (std::size_t d = 0; d < D_; ++d) acc[d] += w * vdr[d];
          }
        }
      }
    }
    for (std::size_t r = 0; r < n; ++r) {
      const RowState& rs = rows_[first + r];
      if (!lse_only_)
        for (std::size_t d = 0; d < D_; ++d) rs.o[d] = acc_[r * D_ + d] / rs.sum;
      *rs.lse = rs.m + std::log(rs.sum);
    }
  }

  // Key j's row of KV head kvh in `base` (K or V), or nullptr for a page id outside the pool.
  const uint16_t* key_row(const uint16_t* base, const int64_t* stride, int b, const Seq& s, int64_t j,
                          int kvh) const {
    if (p_.page_size > 0) {
      const int32_t id = p_.block_table[static_cast<std::size_t>(b) * p_.max_blocks_per_seq + j / p_.page_size];
      if (id < 0 || id >= p_.num_pages) return nullptr;  // the kernels' TMA reads zeros there
      return base + int64_t(id) * stride[0] + (j % p_.page_size) * stride[1] + int64_t(kvh) * stride[2];
    }
    if (!p_.cu_seqlens_k.empty()) return base + (s.k_row0 + j) * stride[1] + int64_t(kvh) * stride[2];
    return base + int64_t(b) * stride[0] + j * stride[1] + int64_t(kvh) * stride[2];
  }

  // Keys [j0, j1) of KV head kvh in K or V, widened into chunk_ (zeros for an unmapped page).
  void widen(const uint16_t* base, const int64_t* stride, int b, const Seq& s, int kvh, int64_t j0, int64_t j1) {
    chunk_.resize(static_cast<std::size_t>(j1 - j0) * D_);
    for (int64_t j = j0; j < j1; ++j) {
      const uint16_t* r = key_row(base, stride, b, s, j, kvh);
      double* out = &chunk_[static_cast<std::size_t>(j - j0) * D_];
      for (std::size_t d = 0; d < D_; ++d) out[d] = r != nullptr ? bf16_to_float(r[d]) : 0.0;
    }
  }

  static constexpr int64_t kChunkKeys = 64;  // keys widened at a time (<= 128 KB at D 256)
  const RefAttnProblem& p_;
  const std::vector<Seq>& seqs_;
  const uint16_t *q_, *k_, *v_;
  RefAttnResult* r_;
  const bool lse_only_;
  const int right_;
  const std::size_t D_;
  const int64_t score_budget_;
  std::vector<RowState> rows_;
  std::vector<double> chunk_, qd_, sc_, acc_;
};

}  // namespace

void reference_attn_impl(const RefAttnProblem& p, const uint16_t* q, const uint16_t* k,
                         const uint16_t* v, RefAttnResult* out, bool split_rows, const char* who,
                         const RefAttnLimits& limits) {
  check_problem(p, who);
  const bool varlen = !p.cu_seqlens_q.empty();
  const std::size_t rows = varlen ? static_cast<std::size_t>(p.total_q)
                                  : static_cast<std::size_t>(p.batch) * p.seqlen_q;
  const std::size_t H = static_cast<std::size_t>(p.heads_q), D = static_cast<std::size_t>(p.head_dim);
  if (v != nullptr) out->o.assign(rows * H * D, kNaN);
  else out->o.clear();
  out->lse.assign(rows * H, kNaN);
  out->visible.assign(rows, 0);
  const std::vector<Seq> seqs = resolve(p);
  out->writers = writers_of(seqs, rows);
  const bool overlapping = std::any_of(out->writers.begin(), out->writers.end(), [](uint8_t w) { return w > 1; });
  double work = 0;
  int64_t all_rows = 0;
  const double sampled = p.row_mask.empty() ? 1.0
                         : double(std::count_if(p.row_mask.begin(), p.row_mask.end(), [](uint8_t x) { return x != 0; })) /
                               double(std::max<std::size_t>(p.row_mask.size(), 1));
  for (const Seq& s : seqs) {
    work += sampled * double(s.len_q) * std::max(s.len_k, 1) * std::max(p.head_dim, 1) * p.heads_q;
    all_rows += s.len_q;
  }

  unsigned hw = std::thread::hardware_concurrency();
  int nthreads = static_cast<int>(std::min<unsigned>(hw == 0 ? 1 : hw, 16u));
  if (work < 4e6 || overlapping) nthreads = 1;  // small: thread start-up would dominate
  if (limits.threads > 0 && !overlapping) nthreads = limits.threads;
  int block = INT32_MAX;
  if (split_rows && nthreads > 1)
    block = static_cast<int>(std::max<int64_t>(32, (all_rows * p.heads_q + 4 * nthreads - 1) / (4 * nthreads)));
  // Sequences of a few query rows (decode) put several heads of one KV head in a task, so that
  // a task widens its keys once for all of them: as many heads as still give every thread a task.
  const int group = p.heads_q / p.heads_kv;
  const int spread = static_cast<int>((nthreads + int64_t(p.batch) * p.heads_kv - 1) /
                                      std::max<int64_t>(int64_t(p.batch) * p.heads_kv, 1));
  const int few_heads = std::max(1, group / std::max(spread, 1));
  std::vector<Task> tasks;
  for (int b = 0; b < p.batch; ++b) {
    const int len_q = seqs[static_cast<std::size_t>(b)].len_q;
    const int heads = len_q <= kFewRows ? few_heads : 1;
    for (int h0 = 0, h1 = 0; h0 < p.heads_q; h0 = h1) {
      h1 = std::min(h0 + heads, (h0 / group + 1) * group);  // within h0's KV head
      for (int i0 = 0; i0 < len_q; i0 += block)
        tasks.push_back({b, h0, h1, i0, static_cast<int>(std::min<int64_t>(len_q, int64_t(i0) + block))});
    }
  }
  nthreads = std::max(1, std::min<int>(nthreads, static_cast<int>(tasks.size())));

  std::atomic<std::size_t> next{0};
  auto body = [&]() {
    Worker w(p, seqs, q, k, v, out, std::max<int64_t>(limits.score_budget, 1));
    for (std::size_t t = next.fetch_add(1); t < tasks.size(); t = next.fetch_add(1)) w.run(tasks[t]);
  };
  if (nthreads <= 1) {
    body();
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(nthreads - 1));
  for (int i = 0; i < nthreads - 1; ++i) pool.emplace_back(body);
  body();
  for (auto& t : pool) t.join();
}

void reference_attn_lse(const RefAttnProblem& p, const uint16_t* q, const uint16_t* k, RefAttnResult* out,
                        const char* who, const RefAttnLimits& limits) {
  reference_attn_impl(p, q, k, nullptr, out, true, who, limits);
}

std::vector<uint8_t> attn_row_writers(const RefAttnProblem& p) {
  check_problem(p, "attn_row_writers");
  const std::size_t rows = !p.cu_seqlens_q.empty() ? static_cast<std::size_t>(p.total_q)
                                                   : static_cast<std::size_t>(p.batch) * p.seqlen_q;
  return writers_of(resolve(p), rows);
}

void reference_attn(const RefAttnProblem& p, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                    RefAttnResult* out) {
  reference_attn_impl(p, q, k, v, out, true, "reference_attn");
}

}  // namespace ptxfmha
