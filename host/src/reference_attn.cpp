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
// Work: one task per (sequence, query head, block of rows). A task widens only the keys its
// rows can see (the union of their [lo, hi), contiguous because lo and hi grow with i) of its
// KV head to float64, through the block table when paged.
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

struct Task {
  int b, h, i0, i1;
};

class Worker {
 public:
  Worker(const RefAttnProblem& p, const std::vector<Seq>& seqs, const uint16_t* q, const uint16_t* k,
         const uint16_t* v, RefAttnResult* r)
      : p_(p), seqs_(seqs), q_(q), k_(k), v_(v), r_(r),
        right_(p.causal ? 0 : p.window_right), D_(static_cast<std::size_t>(p.head_dim)) {
    qd_.resize(D_);
    acc_.resize(D_);
    row_.resize(D_);
  }

  void run(const Task& t) {
    const Seq& s = seqs_[static_cast<std::size_t>(t.b)];
    const int kvh = t.h / (p_.heads_q / p_.heads_kv);
    int64_t glo = 0, ghi = 0;
    window(s, t.i0, &glo, nullptr);
    window(s, t.i1 - 1, nullptr, &ghi);
    // Many rows per task (prefill) convert the task's keys to double once; a few (decode: one
    // to a few query tokens against up to 128k keys) convert each key where it is used, which
    // reads 2-byte elements instead of writing and re-reading 8-byte ones. Same values either way.
    gathered_ = t.i1 - t.i0 > kDirectRows;
    b_ = t.b;
    seq_ = &s;
    kvh_ = kvh;
    glo_ = glo;
    if (gathered_) gather(t.b, s, kvh, glo, ghi);
    sc_.assign(ghi > glo ? static_cast<std::size_t>(ghi - glo) : 0, 0.0);
    const bool varlen = !p_.cu_seqlens_q.empty();
    const bool has_sink = !p_.sink_logits.empty();
    const double sink = has_sink ? double(p_.sink_logits[static_cast<std::size_t>(t.h)]) : 0.0;
    const bool has_alibi = !p_.alibi_slopes.empty();
    const double slope = has_alibi ? double(p_.alibi_slopes[static_cast<std::size_t>(t.h)]) : 0.0;
    const int D = p_.head_dim;
    for (int i = t.i0; i < t.i1; ++i) {
      const int64_t row = s.q_row0 + i;
      const uint16_t* qr = varlen ? q_ + row * p_.q_stride[1] + int64_t(t.h) * p_.q_stride[2]
                                  : q_ + int64_t(t.b) * p_.q_stride[0] + int64_t(i) * p_.q_stride[1] +
                                        int64_t(t.h) * p_.q_stride[2];
      double* o = r_->o.data() + (static_cast<std::size_t>(row) * p_.heads_q + t.h) * D_;
      double* l = r_->lse.data() + (varlen ? static_cast<std::size_t>(t.h) * p_.total_q + row
                                           : (static_cast<std::size_t>(t.b) * p_.heads_q + t.h) * p_.seqlen_q + i);
      int64_t lo = 0, hi = 0;
      window(s, i, &lo, &hi);
      if (t.h == 0) r_->visible[static_cast<std::size_t>(row)] = static_cast<int32_t>(hi > lo ? hi - lo : 0);
      if (!p_.row_mask.empty() && p_.row_mask[static_cast<std::size_t>(row)] == 0) continue;  // not sampled
      if (lo >= hi) {  // no visible key
        std::fill(o, o + D, 0.0);
        *l = has_sink ? sink : -kInf;
        continue;
      }
      for (int d = 0; d < D; ++d) qd_[d] = bf16_to_float(qr[d]);
      const int64_t diag = int64_t(i) + s.len_k - s.len_q;
      double m = -kInf;
      for (int64_t j = lo; j < hi; ++j) {
        const double* kdr = key_d(k_, p_.k_stride, kd_, j);
        // Four partial sums: a chain of D dependent double adds would bound the reference by
        // add latency (it checks every decode cell of the bench, up to 128k keys).
        double part[4] = {0, 0, 0, 0};
        int d = 0;
        for (; d + 4 <= D; d += 4)
          for (int u = 0; u < 4; ++u) part[u] += qd_[d + u] * kdr[d + u];
        for (; d < D; ++d) part[0] += qd_[d] * kdr[d];
        const double dot = (part[0] + part[1]) + (part[2] + part[3]);
        double x = dot * p_.softmax_scale;
        if (p_.softcap > 0) x = p_.softcap * std::tanh(x / p_.softcap);
        if (has_alibi) x -= slope * double(std::llabs(diag - j));
        sc_[static_cast<std::size_t>(j - glo)] = x;
        m = std::max(m, x);
      }
      if (has_sink) m = std::max(m, sink);
      std::fill(acc_.begin(), acc_.end(), 0.0);
      double sum = has_sink ? std::exp(sink - m) : 0.0;
      for (int64_t j = lo; j < hi; ++j) {
        const double w = std::exp(sc_[static_cast<std::size_t>(j - glo)] - m);
        sum += w;
        const double* vdr = key_d(v_, p_.v_stride, vd_, j);
        for (int d = 0; d < D; ++d) acc_[d] += w * vdr[d];
      }
      for (int d = 0; d < D; ++d) o[d] = acc_[d] / sum;
      *l = m + std::log(sum);
    }
  }

 private:
  // Visible keys [lo, hi) of row i (either output may be null).
  void window(const Seq& s, int i, int64_t* lo, int64_t* hi) const {
    const int64_t diag = int64_t(i) + s.len_k - s.len_q;
    if (lo) *lo = p_.window_left >= 0 ? std::max<int64_t>(0, diag - p_.window_left) : 0;
    if (hi) *hi = right_ >= 0 ? std::min<int64_t>(s.len_k, diag + right_ + 1) : s.len_k;
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

  // Key j's row of the task's KV head in K or V as doubles: the gathered copy, or converted into
  // row_ (valid until the next call).
  const double* key_d(const uint16_t* base, const int64_t* stride, const std::vector<double>& gathered,
                      int64_t j) {
    if (gathered_) return &gathered[static_cast<std::size_t>(j - glo_) * D_];
    const uint16_t* r = key_row(base, stride, b_, *seq_, j, kvh_);
    for (std::size_t d = 0; d < D_; ++d) row_[d] = r != nullptr ? bf16_to_float(r[d]) : 0.0;
    return row_.data();
  }

  void gather(int b, const Seq& s, int kvh, int64_t lo, int64_t hi) {
    const std::size_t n = hi > lo ? static_cast<std::size_t>(hi - lo) : 0;
    kd_.assign(n * D_, 0.0);
    vd_.assign(n * D_, 0.0);
    for (int64_t j = lo; j < hi; ++j) {
      const uint16_t* kr = key_row(k_, p_.k_stride, b, s, j, kvh);
      const uint16_t* vr = key_row(v_, p_.v_stride, b, s, j, kvh);
      double* kdr = &kd_[static_cast<std::size_t>(j - lo) * D_];
      double* vdr = &vd_[static_cast<std::size_t>(j - lo) * D_];
      for (std::size_t d = 0; kr != nullptr && d < D_; ++d) kdr[d] = bf16_to_float(kr[d]);
      for (std::size_t d = 0; vr != nullptr && d < D_; ++d) vdr[d] = bf16_to_float(vr[d]);
    }
  }

  const RefAttnProblem& p_;
  const std::vector<Seq>& seqs_;
  const uint16_t *q_, *k_, *v_;
  RefAttnResult* r_;
  const int right_;
  const std::size_t D_;
  static constexpr int kDirectRows = 16;  // rows per task up to which keys are converted in place
  std::vector<double> kd_, vd_, qd_, sc_, acc_, row_;
  bool gathered_ = true;
  int b_ = 0, kvh_ = 0;
  const Seq* seq_ = nullptr;
  int64_t glo_ = 0;
};

}  // namespace

void reference_attn_impl(const RefAttnProblem& p, const uint16_t* q, const uint16_t* k,
                         const uint16_t* v, RefAttnResult* out, bool split_rows, const char* who) {
  check_problem(p, who);
  const bool varlen = !p.cu_seqlens_q.empty();
  const std::size_t rows = varlen ? static_cast<std::size_t>(p.total_q)
                                  : static_cast<std::size_t>(p.batch) * p.seqlen_q;
  const std::size_t H = static_cast<std::size_t>(p.heads_q), D = static_cast<std::size_t>(p.head_dim);
  out->o.assign(rows * H * D, kNaN);
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
  int block = INT32_MAX;
  if (split_rows && nthreads > 1)
    block = static_cast<int>(std::max<int64_t>(32, (all_rows * p.heads_q + 4 * nthreads - 1) / (4 * nthreads)));
  std::vector<Task> tasks;
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads_q; ++h)
      for (int i0 = 0; i0 < seqs[static_cast<std::size_t>(b)].len_q; i0 += block)
        tasks.push_back({b, h, i0, static_cast<int>(std::min<int64_t>(seqs[static_cast<std::size_t>(b)].len_q, int64_t(i0) + block))});
  nthreads = std::max(1, std::min<int>(nthreads, static_cast<int>(tasks.size())));

  std::atomic<std::size_t> next{0};
  auto body = [&]() {
    Worker w(p, seqs, q, k, v, out);
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
