// TMA tensor-map encoding. See tensor_map.h.
#include "tensor_map.h"

#include <cstdio>

#include "driver.h"
#include "status.h"

namespace ptxfmha {

ptxfmha_status encode_tensor_map(const TensorView& t, unsigned box_cols, unsigned box_rows,
                                 CUtensorMap* out, CUtensorMapL2promotion promotion) {
  if (t.elem_bytes != 2 && t.elem_bytes != 1)
    return fail(PTXFMHA_ERR_INVALID_ARGUMENT,
                "%s: only 2-byte (bf16) and 1-byte (e4m3) tensors have tensor maps", t.name);
  // bf16: the 128-byte swizzle (every caller's box rows are 128 bytes); bytes (e4m3 caches):
  // the swizzle of the box row's width, 128 or 64 bytes.
  const CUtensorMapDataType type =
      t.elem_bytes == 2 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_UINT8;
  const CUtensorMapSwizzle swizzle = t.elem_bytes == 2 || box_cols >= 128 ? CU_TENSOR_MAP_SWIZZLE_128B
                                                                          : CU_TENSOR_MAP_SWIZZLE_64B;
  const DriverApi& d = drv();
  const cuuint64_t elem = static_cast<cuuint64_t>(t.elem_bytes);
  cuuint64_t dims[4] = {static_cast<cuuint64_t>(t.dims[3]), static_cast<cuuint64_t>(t.dims[1]),
                        static_cast<cuuint64_t>(t.dims[2]), static_cast<cuuint64_t>(t.dims[0])};
  // strides[0] is the seq dim (TMA dim 1), [1] heads (dim 2), [2] batch (dim 3).
  const int view_dim[3] = {1, 2, 0};
  cuuint64_t strides[3];
  for (int i = 0; i < 3; ++i) {
    int v = view_dim[i];
    strides[i] = t.dims[v] > 1 ? static_cast<cuuint64_t>(t.strides[v]) * elem
                               : static_cast<cuuint64_t>(t.dims[3]) * elem;
  }
  cuuint32_t box[4] = {box_cols, box_rows, 1, 1};
  cuuint32_t estr[4] = {1, 1, 1, 1};
  CUresult r = d.cuTensorMapEncodeTiled(
      out, type, 4, const_cast<void*>(t.ptr), dims, strides, box,
      estr, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
      promotion, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    char what[400];
    std::snprintf(what, sizeof what,
                  "cuTensorMapEncodeTiled(%s: dims {%llu, %llu, %llu, %llu}, byte strides {%llu, "
                  "%llu, %llu}, box {%u, %u, 1, 1})",
                  t.name, (unsigned long long)dims[0], (unsigned long long)dims[1],
                  (unsigned long long)dims[2], (unsigned long long)dims[3],
                  (unsigned long long)strides[0], (unsigned long long)strides[1],
                  (unsigned long long)strides[2], box_cols, box_rows);
    return fail_cuda(r, what);
  }
  return PTXFMHA_OK;
}

}  // namespace ptxfmha
