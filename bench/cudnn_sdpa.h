// cuDNN's fused scaled-dot-product attention (SDPA) forward, for the benchmark and the CLI.
//
// Two layers, so that code that only wants to know whether cuDNN is there does not compile
// the cudnn-frontend headers:
//   cudnn_library()  plain dlopen of libcudnn (cudnn_loader.cpp). Nothing links libcudnn:
//                    binaries start without it and report it absent.
//   CudnnSdpa        the graph (cudnn_sdpa.cpp, compiled against cudnn-frontend with
//                    NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING, which calls cuDNN through the
//                    handle cudnn_library() opened).
//
// Where libcudnn is looked for, first hit wins:
//   1. $PTXFMHA_CUDNN_LIB: a library file, or a directory holding libcudnn.so.9
//   2. the library directory beside the cudnn.h bench/ was built with (PTXFMHA_CUDNN_LIBDIR,
//      from bench.mk), so that library and headers match
//   3. "libcudnn.so.9", then "libcudnn_graph.so.9" through the loader's own search
//      (LD_LIBRARY_PATH, ld.so.cache)
//   4. /opt/torch/.venv/lib/python3*/site-packages/nvidia/cudnn/lib, <cuda>/lib64, <cuda>/lib
// cudnn-frontend loads the CUDA runtime itself (dlopen) for the few calls it needs; when
// $CUDNN_FRONTEND_CUDART_LIB_NAME is unset we point it at a libcudart.so.13 we can find, so
// that no LD_LIBRARY_PATH is needed either.
#pragma once
#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ptxfmha_bench {

struct CudnnLibrary {
  bool loaded = false;
  std::string path;       // the file dlopen accepted
  std::string why;        // when !loaded: every place tried and dlerror()
  std::size_t version = 0;  // cudnnGetVersion() of the loaded library, e.g. 91900
  void* handle = nullptr;
  std::string version_string() const;  // "9.19.0" (or "absent")
};

// Once per process, thread-safe.
const CudnnLibrary& cudnn_library();

// cuDNN header version the frontend part was compiled against (CUDNN_VERSION), and the
// cudnn-frontend version; 0 when bench/ was built without cuDNN (then CudnnSdpa refuses).
std::size_t cudnn_compiled_version();
std::size_t cudnn_frontend_version();

// One attention problem, in ptx-fmha's convention: bf16 [batch, seq, heads, head_dim] with
// element strides (head_dim contiguous), fp32 LSE [batch, heads_q, seqlen_q] (natural log),
// causal = bottom-right aligned (cuDNN DiagonalAlignment_t::BOTTOM_RIGHT, right bound 0).
struct SdpaProblem {
  int64_t batch = 0, seqlen_q = 0, seqlen_k = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  int64_t q_stride[3] = {0, 0, 0};  // batch, seq, head (elements)
  int64_t k_stride[3] = {0, 0, 0};
  int64_t v_stride[3] = {0, 0, 0};
  int64_t o_stride[3] = {0, 0, 0};
  float softmax_scale = 0.f;
  bool causal = false;
  bool lse = true;  // generate the softmax statistics (LSE) as ptx-fmha does
};

// Dense [batch, seq, heads, head_dim] strides.
void dense_strides(int64_t seqlen, int64_t heads, int64_t head_dim, int64_t out[3]);

class CudnnSdpa {
 public:
  CudnnSdpa();
  ~CudnnSdpa();
  CudnnSdpa(const CudnnSdpa&) = delete;
  CudnnSdpa& operator=(const CudnnSdpa&) = delete;

  // Creates the handle (on the calling thread's current CUDA context) bound to `stream`,
  // builds the graph and picks the heuristics' first plan that supports it.
  // False with *why = what cuDNN said (absent library, unsupported shape, ...).
  bool build(const SdpaProblem& p, CUstream stream, std::string* why);
  // Bytes of device workspace run() needs (valid after build()).
  std::size_t workspace_bytes() const;
  // Enqueues one forward on the stream. lse may be null only when the problem has lse=false.
  bool run(const void* q, const void* k, const void* v, void* o, float* lse, void* workspace,
           std::string* why);
  // Name of the engine/plan cuDNN picked, for the report ("" before build()).
  std::string plan_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptxfmha_bench
