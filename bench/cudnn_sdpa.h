// cuDNN's fused scaled-dot-product attention (SDPA) forward and backward, for the benchmark,
// the CLI and the backward GPU tests.
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
#include <vector>

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
// A new attention feature (window, softcap, sinks, ragged offsets, ...) is one field here, the
// matching graph attribute in CudnnSdpa::build, and its pointer in SdpaBuffers if it has one.
struct SdpaProblem {
  int64_t batch = 0, seqlen_q = 0, seqlen_k = 0, heads_q = 0, heads_kv = 0, head_dim = 0;
  int64_t q_stride[3] = {0, 0, 0};  // batch, seq, head (elements)
  int64_t k_stride[3] = {0, 0, 0};  // paged: page, token in page, head
  int64_t v_stride[3] = {0, 0, 0};
  int64_t o_stride[3] = {0, 0, 0};
  float softmax_scale = 0.f;
  bool causal = false;
  bool lse = true;  // generate the softmax statistics (LSE) as ptx-fmha does
  // Paged K/V (cuDNN's paged SDPA): K and V live in a pool [num_pages, page_size, heads_kv,
  // head_dim] and an int32 page table [batch, table_cols] (the same one for K and V) maps each
  // sequence's blocks of page_size tokens to pages. The padding mask then takes per-sequence
  // lengths (SdpaBuffers::seq_len_q/kv). page_size 0 = dense K/V.
  int64_t page_size = 0, num_pages = 0, table_cols = 0;
  // Backward (bench/family_bwd.cpp; the graph: cuDNN's SDPA backward, section "backward" of
  // cudnn_sdpa.cpp): inputs Q, K, V, O and dO (dO laid out as O, o_stride) and the forward's LSE
  // as cuDNN's stats (lse must be true); outputs dQ (q_stride), dK (k_stride), dV (v_stride)
  // into SdpaBuffers::dq, dk, dv.
  bool backward = false;
  bool deterministic = false;  // cuDNN's deterministic backward algorithm
  // Serving features (bench/family_attn.cpp):
  //   ragged      variable length in cuDNN's ragged ("THD") layout: Q/O and K/V packed
  //               [total, heads, d]; the graph's tensors are [batch, heads, seqlen (the
  //               longest), d] with the packed strides, ragged offsets (element offset of each
  //               sequence, int32 [batch + 1]) and a padding mask with per-sequence lengths;
  //               no LSE (set lse = false)
  //   window_left sliding window of FlashAttention's window_size_left (keys >= diagonal - w);
  //               cuDNN: diagonal band left bound w + 1. -1 = none
  //   sink        one fp32 logit per query head in the softmax denominator (cuDNN's sink token)
  //   softcap     scores become cap * tanh(s / cap) after the softmax scale: cudnn-frontend's
  //               attn::score_modifiers::Softcap as the graph's score modifier (set_score_mod,
  //               applied after attn_scale, as ptx-fmha and FlashAttention do). cudnn-frontend
  //               1.32 refuses a score modifier together with a causal / band / padding / ALiBi
  //               mask ("Attention score mod enabled and hence other subgraphs are disabled"),
  //               so build() refuses softcap on any problem but a dense, unmasked one. 0 = off
  // Their device arrays are bound at every run and are not part of key() (the same for every
  // rotation set).
  bool ragged = false;
  int64_t window_left = -1;
  bool sink = false;
  float softcap = 0.f;
  const int32_t* ragged_q = nullptr;   // int32 [batch + 1]: Q / O element offsets
  const int32_t* ragged_kv = nullptr;  // int32 [batch + 1]: K / V element offsets
  const int32_t* seq_len_q = nullptr;  // int32 [batch]
  const int32_t* seq_len_kv = nullptr;
  const float* sink_logits = nullptr;  // fp32 [heads_q]
  // Decode over an e4m3 (FP8) K/V cache with bf16 Q and O and per-KV-head scales (ptx-fmha's
  // kv_dtype PTXFMHA_KV_E4M3). cuDNN 9.19 / cudnn-frontend 1.32 cannot express it on Hopper:
  // its FP8 SDPA (sdpa_fp8) takes Q, K and V all in FP8 with per-tensor descales, writes FP8
  // O (bf16 O only on Blackwell, cuDNN >= 9.13) and has no bottom-right causal mask on Hopper;
  // build() refuses such a problem with that reason (the cell is timed on our side only).
  bool kv_e4m3 = false;

  // Everything that defines the graph, as text: the key of the run's plan-choice cache.
  std::string key() const;
  // Whether cuDNN can add this problem's softcap (see softcap above): no mask of any kind.
  bool softcap_expressible() const;
};

// Device pointers of one call.
struct SdpaBuffers {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  float* lse = nullptr;                 // may be null only when the problem has lse=false
  const int32_t* page_table = nullptr;  // paged problems
  const int32_t* seq_len_q = nullptr;   // paged problems: int32 [batch]
  const int32_t* seq_len_kv = nullptr;
  void* workspace = nullptr;            // workspace_bytes() of the plan that runs
  const void* dout = nullptr;           // backward problems: dO in, dQ, dK, dV out
  void* dq = nullptr;
  void* dk = nullptr;
  void* dv = nullptr;
};

// Dense [batch, seq, heads, head_dim] strides.
void dense_strides(int64_t seqlen, int64_t heads, int64_t head_dim, int64_t out[3]);

// One engine configuration of the graph, in the heuristics' order (modes A, B, fallback;
// configurations another mode already offered are listed as duplicates and not built).
struct SdpaPlan {
  int index = -1;          // the graph's plan index
  std::string tag;         // cuDNN's engine tag, e.g. "eng8_k2=3"
  int64_t engine_id = -1;
  std::string knobs;       // "TILE_SIZE=3 KERNEL_CFG=5"
  std::string notes;       // behaviour notes, e.g. "RUNTIME_COMPILATION"
  int64_t workspace = 0;
  bool built = false;      // supported and built: can run
  std::string why;         // not built: what cuDNN said (or "duplicate of #i")
  double build_s = 0;      // seconds check_support + build took
};

class CudnnSdpa {
 public:
  CudnnSdpa();
  ~CudnnSdpa();
  CudnnSdpa(const CudnnSdpa&) = delete;
  CudnnSdpa& operator=(const CudnnSdpa&) = delete;

  // Creates the handle (on the calling thread's current CUDA context) bound to `stream` and
  // builds the graph. all_modes: every configuration of heuristics modes A, B and fallback
  // is checked and built (at most max_plans of them), for a tuner to time; otherwise the
  // heuristics' first supported configuration of mode A only (cuDNN's own choice). The first
  // built plan is selected. False with *why = what cuDNN said (absent library, unsupported
  // shape, no plan built, ...).
  bool build(const SdpaProblem& p, CUstream stream, bool all_modes, int max_plans, std::string* why);
  const std::vector<SdpaPlan>& plans() const;
  // Runs plan `i` (of plans(), built) from now on; false if it cannot run.
  bool select(int i);
  int selected() const;
  // Bytes of device workspace the selected plan needs / the largest any built plan needs.
  std::size_t workspace_bytes() const;
  std::size_t max_workspace_bytes() const;
  // Enqueues one forward with the selected plan, or with plan i.
  bool run(const SdpaBuffers& b, std::string* why);
  bool run_plan(int i, const SdpaBuffers& b, std::string* why);
  // Tag of the selected plan ("" before build()).
  std::string plan_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptxfmha_bench
