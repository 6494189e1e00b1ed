// ptxfmha_check_metadata, ptxfmha_check_decode_metadata. See metadata.h.
#include "metadata.h"

#include <cinttypes>
#include <initializer_list>
#include <string>

#include "attn.h"
#include "bwd.h"
#include "driver.h"
#include "runtime.h"
#include "validate_attn.h"

namespace ptxfmha {

MetadataSpec metadata_spec(const ptxfmha_attn_params& p) {
  MetadataSpec s;
  s.batch = p.batch;
  s.varlen_q = p.cu_seqlens_q != nullptr;
  s.varlen_k = p.cu_seqlens_k != nullptr;
  s.paged = p.block_table != nullptr;
  s.has_seqused = p.seqused_k != nullptr;
  s.total_q = p.total_q;
  s.max_seqlen_q = p.max_seqlen_q;
  s.total_k = p.total_k;
  s.max_seqlen_k = p.max_seqlen_k;
  s.seqlen_k = p.seqlen_k;
  s.page_size = p.page_size;
  s.max_blocks_per_seq = p.max_blocks_per_seq;
  s.num_pages = p.num_pages;
  return s;
}

MetadataSpec metadata_spec(const ptxfmha_bwd_params& p) {
  ptxfmha_attn_params a;  // the backward's lengths mean what the forward's do
  attn_params_defaults(&a);
  a.batch = p.batch;
  a.seqlen_q = p.seqlen_q;
  a.seqlen_k = p.seqlen_k;
  a.cu_seqlens_q = p.cu_seqlens_q;
  a.cu_seqlens_k = p.cu_seqlens_k;
  a.seqused_k = p.seqused_k;
  a.max_seqlen_q = p.max_seqlen_q;
  a.max_seqlen_k = p.max_seqlen_k;
  a.total_q = p.total_q;
  a.total_k = p.total_k;
  return metadata_spec(a);
}

MetadataSpec metadata_spec(const ptxfmha_decode_attn_params& p) {
  MetadataSpec s;
  s.batch = p.batch;
  s.paged = p.block_table != nullptr;
  s.has_seqused = p.seqlens_k != nullptr;
  s.seqlen_k = p.max_seqlen_k;
  s.page_size = p.page_size;
  s.max_blocks_per_seq = p.max_blocks_per_seq;
  s.num_pages = p.num_pages;
  s.seqused_name = "seqlens_k";
  s.cap_name = "max_seqlen_k";
  return s;
}

namespace {

ptxfmha_status check_offsets(const std::vector<int32_t>& cu, const char* name, int32_t total,
                             const char* total_name, int32_t max_len, const char* max_name) {
  if (cu[0] != 0)
    return fail(PTXFMHA_ERR_INVALID_METADATA, "%s[0] = %d must be 0", name, cu[0]);
  for (std::size_t b = 0; b + 1 < cu.size(); ++b) {
    const int32_t lo = cu[b], hi = cu[b + 1];
    if (hi < lo)
      return fail(PTXFMHA_ERR_INVALID_METADATA,
                  "%s[%zu] = %d is less than %s[%zu] = %d (offsets must not decrease)", name, b + 1,
                  hi, name, b, lo);
    if (hi > total)
      return fail(PTXFMHA_ERR_INVALID_METADATA, "%s[%zu] = %d exceeds %s = %d", name, b + 1, hi,
                  total_name, total);
    if (int64_t(hi) - lo > max_len)
      return fail(PTXFMHA_ERR_INVALID_METADATA,
                  "%s[%zu] - %s[%zu] = %d - %d: sequence %zu is longer than %s = %d", name, b + 1,
                  name, b, hi, lo, b, max_name, max_len);
  }
  if (cu.back() != total)
    return fail(PTXFMHA_ERR_INVALID_METADATA, "%s[%zu] = %d (the last offset) differs from %s = %d",
                name, cu.size() - 1, cu.back(), total_name, total);
  return PTXFMHA_OK;
}

ptxfmha_status expect_size(const std::vector<int32_t>& v, bool used, std::size_t n, const char* name) {
  const std::size_t want = used ? n : 0;
  if (v.size() != want)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT, "check_metadata_host: %s has %zu entries, expected %zu",
                name, v.size(), want);
  return PTXFMHA_OK;
}

}  // namespace

ptxfmha_status check_metadata_host(const MetadataSpec& s, const MetadataHost& m) {
  const std::size_t B = static_cast<std::size_t>(s.batch);
  ptxfmha_status st = expect_size(m.cu_seqlens_q, s.varlen_q, B + 1, "cu_seqlens_q");
  if (st == PTXFMHA_OK) st = expect_size(m.cu_seqlens_k, s.varlen_k, B + 1, "cu_seqlens_k");
  if (st == PTXFMHA_OK) st = expect_size(m.seqused_k, s.has_seqused, B, s.seqused_name);
  if (st == PTXFMHA_OK)
    st = expect_size(m.block_table, s.paged, B * static_cast<std::size_t>(s.max_blocks_per_seq),
                     "block_table");
  if (st != PTXFMHA_OK) return st;

  if (s.varlen_q) {
    st = check_offsets(m.cu_seqlens_q, "cu_seqlens_q", s.total_q, "total_q", s.max_seqlen_q,
                       "max_seqlen_q");
    if (st != PTXFMHA_OK) return st;
  }
  if (s.varlen_k) {
    st = check_offsets(m.cu_seqlens_k, "cu_seqlens_k", s.total_k, "total_k", s.max_seqlen_k,
                       "max_seqlen_k");
    if (st != PTXFMHA_OK) return st;
  }
  // Keys of sequence b: the cap from the layout, then seqused.
  std::vector<int32_t> len_k(B);
  for (std::size_t b = 0; b < B; ++b)
    len_k[b] = s.varlen_k ? m.cu_seqlens_k[b + 1] - m.cu_seqlens_k[b] : s.seqlen_k;
  if (s.has_seqused) {
    for (std::size_t b = 0; b < B; ++b) {
      const int32_t u = m.seqused_k[b];
      if (u < 0)
        return fail(PTXFMHA_ERR_INVALID_METADATA, "%s[%zu] = %d is negative", s.seqused_name, b, u);
      if (u > len_k[b])
        return fail(PTXFMHA_ERR_INVALID_METADATA,
                    "%s[%zu] = %d exceeds the %d keys sequence %zu has (%s)", s.seqused_name, b, u,
                    len_k[b], b, s.varlen_k ? "cu_seqlens_k" : s.cap_name);
      len_k[b] = u;
    }
  }
  if (s.paged) {
    const std::size_t cols = static_cast<std::size_t>(s.max_blocks_per_seq);
    for (std::size_t b = 0; b < B; ++b) {
      const std::size_t pages = (static_cast<std::size_t>(len_k[b]) + s.page_size - 1) / s.page_size;
      for (std::size_t i = 0; i < pages && i < cols; ++i) {
        const int32_t id = m.block_table[b * cols + i];
        if (id < 0 || id >= s.num_pages)
          return fail(PTXFMHA_ERR_INVALID_PAGE_TABLE,
                      "block_table[%zu][%zu] = %d (entry %zu) is outside [0, num_pages = %d): "
                      "sequence %zu needs pages 0..%zu of its row for its %d keys",
                      b, i, id, b * cols + i, s.num_pages, b, pages - 1, len_k[b]);
      }
    }
  }
  return PTXFMHA_OK;
}

namespace {

// Synchronous copy of `n` int32 from device address `src` (already range-checked).
ptxfmha_status copy_in(const int32_t* src, std::size_t n, std::vector<int32_t>* out, const char* name) {
  out->assign(n, 0);
  if (n == 0 || src == nullptr) return PTXFMHA_OK;
  CUresult r = drv().cuMemcpyDtoH(out->data(), reinterpret_cast<CUdeviceptr>(src), n * sizeof(int32_t));
  if (r != CUDA_SUCCESS) return fail_cuda(r, (std::string("cuMemcpyDtoH of ") + name).c_str());
  return PTXFMHA_OK;
}

// Device part shared by both entry points: context, ranges, stream sync, copies, check.
ptxfmha_status check_on_device(const MetadataSpec& s, const int32_t* cu_q, const int32_t* cu_k,
                               const int32_t* seqused, const int32_t* table, void* stream,
                               const std::vector<ByteRange>& ranges) {
  DeviceInfo dev;
  ptxfmha_status st = acquire_context(&dev);
  if (st != PTXFMHA_OK) return st;
  for (const ByteRange& r : ranges) {
    if (r.hi <= r.lo) continue;
    st = check_device_range(r.name, r.lo, r.hi);
    if (st != PTXFMHA_OK) return st;
  }
  CUresult r = drv().cuStreamSynchronize(static_cast<CUstream>(stream));
  if (r != CUDA_SUCCESS) return fail_cuda(r, "cuStreamSynchronize (waiting for the metadata)");
  const std::size_t B = static_cast<std::size_t>(s.batch);
  MetadataHost m;
  st = copy_in(cu_q, cu_q ? B + 1 : 0, &m.cu_seqlens_q, "cu_seqlens_q");
  if (st == PTXFMHA_OK) st = copy_in(cu_k, cu_k ? B + 1 : 0, &m.cu_seqlens_k, "cu_seqlens_k");
  if (st == PTXFMHA_OK) st = copy_in(seqused, seqused ? B : 0, &m.seqused_k, s.seqused_name);
  if (st == PTXFMHA_OK)
    st = copy_in(table, table ? B * static_cast<std::size_t>(s.max_blocks_per_seq) : 0,
                 &m.block_table, "block_table");
  if (st != PTXFMHA_OK) return st;
  return check_metadata_host(s, m);
}

// Only the metadata arrays' ranges are needed (the copies read nothing else).
std::vector<ByteRange> only(const std::vector<ByteRange>& all, std::initializer_list<const char*> names) {
  std::vector<ByteRange> out;
  for (const ByteRange& r : all)
    for (const char* n : names)
      if (std::string(r.name) == n) out.push_back(r);
  return out;
}

}  // namespace

}  // namespace ptxfmha

extern "C" {

PTXFMHA_API ptxfmha_status ptxfmha_check_metadata(const ptxfmha_attn_params* params) {
  return ptxfmha::api_guard("ptxfmha_check_metadata", [&] {
    ptxfmha_attn_params p;
    ptxfmha_status st = ptxfmha::load_attn_params(params, &p);
    if (st == PTXFMHA_OK) st = ptxfmha::validate_attn_shape(p);
    if (st != PTXFMHA_OK) return st;
    const auto ranges = ptxfmha::only(ptxfmha::attn_byte_ranges(p),
                                      {"cu_seqlens_q", "cu_seqlens_k", "seqused_k", "block_table"});
    return ptxfmha::check_on_device(ptxfmha::metadata_spec(p), p.cu_seqlens_q, p.cu_seqlens_k,
                                    p.seqused_k, p.block_table, p.stream, ranges);
  });
}

PTXFMHA_API ptxfmha_status ptxfmha_check_bwd_metadata(const ptxfmha_bwd_params* params) {
  return ptxfmha::api_guard("ptxfmha_check_bwd_metadata", [&] {
    ptxfmha_bwd_params p;
    ptxfmha_status st = ptxfmha::read_bwd_params(params, &p);
    if (st == PTXFMHA_OK) st = ptxfmha::validate_bwd_shape(p);
    if (st != PTXFMHA_OK) return st;
    return ptxfmha::check_on_device(ptxfmha::metadata_spec(p), p.cu_seqlens_q, p.cu_seqlens_k, p.seqused_k,
                                    nullptr, p.stream, ptxfmha::bwd_meta_ranges(p));
  });
}

PTXFMHA_API ptxfmha_status ptxfmha_check_decode_metadata(const ptxfmha_decode_attn_params* params) {
  return ptxfmha::api_guard("ptxfmha_check_decode_metadata", [&] {
    ptxfmha_decode_attn_params p;
    ptxfmha_status st = ptxfmha::load_decode_attn_params(params, &p);
    if (st == PTXFMHA_OK) st = ptxfmha::validate_decode_attn_shape(p);
    if (st != PTXFMHA_OK) return st;
    const auto ranges = ptxfmha::only(ptxfmha::decode_attn_byte_ranges(p), {"seqlens_k", "block_table"});
    return ptxfmha::check_on_device(ptxfmha::metadata_spec(p), nullptr, nullptr, p.seqlens_k,
                                    p.block_table, p.stream, ranges);
  });
}

}  // extern "C"
