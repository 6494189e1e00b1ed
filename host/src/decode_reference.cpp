// Float64 reference for decode attention over paged or contiguous KV caches. See decode.h.
//
// Reuses reference_fwd: for every sequence b the len_b cached keys are gathered (through the
// block table when paged) into a dense [1, len_b, heads_kv, D] copy, and reference_fwd runs
// on that copy with batch 1, so masking, GQA and the LSE follow exactly the prefill
// reference.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "decode.h"
#include "ptxfmha/reference.h"

namespace ptxfmha {

void reference_decode(const RefDecodeShape& s, const uint16_t* q, const uint16_t* k_cache,
                      const uint16_t* v_cache, const std::vector<int32_t>& seqlens,
                      const std::vector<int32_t>& block_table, std::vector<double>& out,
                      std::vector<double>& lse) {
  auto bad = [](const std::string& m) { throw std::invalid_argument("reference_decode: " + m); };
  if (s.batch < 0 || s.seqlen_q < 0 || s.max_seqlen_k < 0 || s.head_dim < 0) bad("negative size");
  if (s.heads_q <= 0 || s.heads_kv <= 0 || s.heads_q % s.heads_kv != 0) bad("bad head counts");
  if (!seqlens.empty() && seqlens.size() != static_cast<std::size_t>(s.batch))
    bad("seqlens must be empty or hold batch entries");
  const bool paged = s.page_size > 0;
  if (paged && block_table.size() != static_cast<std::size_t>(s.batch) * s.max_blocks_per_seq)
    bad("block_table must hold batch * max_blocks_per_seq entries");
  if (paged && int64_t(s.max_blocks_per_seq) * s.page_size < s.max_seqlen_k)
    bad("max_blocks_per_seq * page_size < max_seqlen_k");

  const int D = s.head_dim, Hkv = s.heads_kv, Sq = s.seqlen_q, Hq = s.heads_q;
  const std::size_t row_elems = static_cast<std::size_t>(Hkv) * D;  // one key, all KV heads
  out.assign(static_cast<std::size_t>(s.batch) * Sq * Hq * D, 0.0);
  lse.assign(static_cast<std::size_t>(s.batch) * Hq * Sq, 0.0);

  std::vector<uint16_t> kd, vd;
  std::vector<double> o1, l1;
  for (int b = 0; b < s.batch; ++b) {
    int len = seqlens.empty() ? s.max_seqlen_k : seqlens[static_cast<std::size_t>(b)];
    len = std::max(0, std::min(len, s.max_seqlen_k));
    kd.assign(static_cast<std::size_t>(len) * row_elems, 0);
    vd.assign(static_cast<std::size_t>(len) * row_elems, 0);
    for (int j = 0; j < len; ++j) {
      int64_t base_page = b;  // contiguous: sequence b
      int64_t row = j;
      bool zero = false;
      if (paged) {
        const int32_t id = block_table[static_cast<std::size_t>(b) * s.max_blocks_per_seq + j / s.page_size];
        if (id < 0 || id >= s.num_pages) zero = true;  // the kernel's TMA reads zeros there
        base_page = id;
        row = j % s.page_size;
      }
      if (zero) continue;
      for (int h = 0; h < Hkv; ++h) {
        const uint16_t* kr = k_cache + base_page * s.k_stride[0] + row * s.k_stride[1] + h * s.k_stride[2];
        const uint16_t* vr = v_cache + base_page * s.v_stride[0] + row * s.v_stride[1] + h * s.v_stride[2];
        std::memcpy(&kd[(static_cast<std::size_t>(j) * Hkv + h) * D], kr, sizeof(uint16_t) * D);
        std::memcpy(&vd[(static_cast<std::size_t>(j) * Hkv + h) * D], vr, sizeof(uint16_t) * D);
      }
    }
    RefShape r;
    r.batch = 1;
    r.seqlen_q = Sq;
    r.seqlen_k = len;
    r.heads_q = Hq;
    r.heads_kv = Hkv;
    r.head_dim = D;
    r.causal = s.causal;
    r.softmax_scale = s.softmax_scale;
    for (int i = 0; i < 3; ++i) r.q_stride[i] = s.q_stride[i];
    const int64_t dense[3] = {int64_t(len) * Hkv * D, int64_t(Hkv) * D, D};
    for (int i = 0; i < 3; ++i) r.k_stride[i] = r.v_stride[i] = dense[i];
    reference_fwd(r, q + int64_t(b) * s.q_stride[0], kd.data(), vd.data(), o1, l1);
    std::copy(o1.begin(), o1.end(), out.begin() + static_cast<std::ptrdiff_t>(b) * Sq * Hq * D);
    std::copy(l1.begin(), l1.end(), lse.begin() + static_cast<std::ptrdiff_t>(b) * Hq * Sq);
  }
}

}  // namespace ptxfmha
