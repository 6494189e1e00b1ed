// cuDNN fused SDPA forward through cudnn-frontend's graph API (header-only C++), calling
// cuDNN through the dlopen handle of cudnn_loader.cpp (NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING).
//
// Built without cudnn-frontend or cuDNN headers (PTXFMHA_BENCH_NO_CUDNN, decided by
// bench.mk), CudnnSdpa::build() refuses with a message saying so, and the bench still times
// ptx-fmha.
#include "cudnn_sdpa.h"

#include <sstream>

#ifndef PTXFMHA_BENCH_NO_CUDNN
#include <cudnn.h>
#include <cudnn_frontend.h>

namespace cudnn_frontend {
// cudnn-frontend's dynamic-loading mode resolves every cuDNN symbol from this handle.
void* cudnn_dlhandle = nullptr;
}  // namespace cudnn_frontend
#endif

namespace ptxfmha_bench {

#ifdef PTXFMHA_BENCH_NO_CUDNN

std::size_t cudnn_compiled_version() { return 0; }
std::size_t cudnn_frontend_version() { return 0; }

struct CudnnSdpa::Impl {};
CudnnSdpa::CudnnSdpa() : impl_(new Impl) {}
CudnnSdpa::~CudnnSdpa() = default;
bool CudnnSdpa::build(const SdpaProblem&, CUstream, std::string* why) {
  *why = "bench was built without cuDNN support (cudnn.h or cudnn-frontend headers were not "
         "found at build time; run `make deps`)";
  return false;
}
std::size_t CudnnSdpa::workspace_bytes() const { return 0; }
bool CudnnSdpa::run(const void*, const void*, const void*, void*, float*, void*,
                    std::string* why) {
  *why = "cuDNN support not built";
  return false;
}
std::string CudnnSdpa::plan_name() const { return ""; }

#else

namespace fe = cudnn_frontend;

std::size_t cudnn_compiled_version() { return CUDNN_VERSION; }
std::size_t cudnn_frontend_version() { return CUDNN_FRONTEND_VERSION; }

namespace {
constexpr int64_t kUidQ = 1, kUidK = 2, kUidV = 3, kUidO = 4, kUidStats = 5;

std::string fe_error(const char* stage, fe::error_t e) {
  std::ostringstream s;
  s << "cuDNN " << stage << ": " << e.get_message();
  return s.str();
}
}  // namespace

struct CudnnSdpa::Impl {
  cudnnHandle_t handle = nullptr;
  std::unique_ptr<fe::graph::Graph> graph;
  int64_t workspace = 0;
  bool lse = true;
  ~Impl() {
    graph.reset();
    if (handle) fe::detail::destroy_handle(handle);
  }
};

CudnnSdpa::CudnnSdpa() : impl_(new Impl) {}
CudnnSdpa::~CudnnSdpa() = default;

bool CudnnSdpa::build(const SdpaProblem& p, CUstream stream, std::string* why) {
  const CudnnLibrary& lib = cudnn_library();
  if (!lib.loaded) {
    *why = lib.why;
    return false;
  }
  // Every library the process opens has the same handle; set it before any frontend call.
  fe::cudnn_dlhandle = lib.handle;
  if (lib.version / 10000 != CUDNN_VERSION / 10000) {
    std::ostringstream s;
    s << "cuDNN library " << lib.version_string() << " (" << lib.path
      << ") has another major version than the headers bench/ was built with ("
      << CUDNN_VERSION << ")";
    *why = s.str();
    return false;
  }
  try {
    if (!impl_->handle) {
      cudnnStatus_t st = fe::detail::create_handle(&impl_->handle);
      if (st != CUDNN_STATUS_SUCCESS) {
        *why = std::string("cudnnCreate failed: ") + fe::detail::get_error_string(st);
        impl_->handle = nullptr;
        return false;
      }
    }
    // cudaStream_t and CUstream are the same type (CUstream_st*).
    cudnnStatus_t st = fe::detail::set_stream(impl_->handle, reinterpret_cast<cudaStream_t>(stream));
    if (st != CUDNN_STATUS_SUCCESS) {
      *why = std::string("cudnnSetStream failed: ") + fe::detail::get_error_string(st);
      return false;
    }

    auto g = std::make_unique<fe::graph::Graph>();
    g->set_io_data_type(fe::DataType_t::BFLOAT16)
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);

    // cuDNN's logical order is [b, h, s, d]; our memory order [b, s, h, d] is expressed by
    // the strides, so no data moves.
    auto tensor = [&](const char* name, int64_t uid, int64_t s, int64_t h, const int64_t st3[3]) {
      return g->tensor(fe::graph::Tensor_attributes()
                           .set_name(name)
                           .set_uid(uid)
                           .set_dim({p.batch, h, s, p.head_dim})
                           .set_stride({st3[0], st3[2], st3[1], 1}));
    };
    auto Q = tensor("Q", kUidQ, p.seqlen_q, p.heads_q, p.q_stride);
    auto K = tensor("K", kUidK, p.seqlen_k, p.heads_kv, p.k_stride);
    auto V = tensor("V", kUidV, p.seqlen_k, p.heads_kv, p.v_stride);

    auto opts = fe::graph::SDPA_attributes()
                    .set_name("sdpa")
                    .set_generate_stats(p.lse)
                    .set_attn_scale(p.softmax_scale);
    if (p.causal) {
      // ptx-fmha: query row i sees keys j <= i + seqlen_k - seqlen_q.
      opts.set_diagonal_alignment(fe::DiagonalAlignment_t::BOTTOM_RIGHT)
          .set_diagonal_band_right_bound(0);
    }
    auto [O, Stats] = g->sdpa(Q, K, V, opts);
    O->set_output(true)
        .set_uid(kUidO)
        .set_dim({p.batch, p.heads_q, p.seqlen_q, p.head_dim})
        .set_stride({p.o_stride[0], p.o_stride[2], p.o_stride[1], 1});
    if (p.lse) {
      // Same layout as ptx-fmha's LSE: fp32 [batch, heads_q, seqlen_q], natural log.
      Stats->set_output(true)
          .set_uid(kUidStats)
          .set_data_type(fe::DataType_t::FLOAT)
          .set_dim({p.batch, p.heads_q, p.seqlen_q, 1})
          .set_stride({p.heads_q * p.seqlen_q, p.seqlen_q, 1, 1});
    }

    fe::error_t e = g->validate();
    if (e.is_bad()) { *why = fe_error("validate", e); return false; }
    e = g->build_operation_graph(impl_->handle);
    if (e.is_bad()) { *why = fe_error("build_operation_graph", e); return false; }
    e = g->create_execution_plans({fe::HeurMode_t::A});
    if (e.is_bad()) { *why = fe_error("create_execution_plans", e); return false; }
    e = g->check_support(impl_->handle);
    if (e.is_bad()) { *why = fe_error("check_support", e); return false; }
    e = g->build_plans(fe::BuildPlanPolicy_t::HEURISTICS_CHOICE);
    if (e.is_bad()) { *why = fe_error("build_plans", e); return false; }
    int64_t ws = 0;
    e = g->get_workspace_size(ws);
    if (e.is_bad()) { *why = fe_error("get_workspace_size", e); return false; }
    impl_->workspace = ws;
    impl_->lse = p.lse;
    impl_->graph = std::move(g);
    return true;
  } catch (const std::exception& ex) {
    *why = std::string("cuDNN frontend threw: ") + ex.what();
    return false;
  }
}

std::size_t CudnnSdpa::workspace_bytes() const {
  return static_cast<std::size_t>(impl_->workspace);
}

bool CudnnSdpa::run(const void* q, const void* k, const void* v, void* o, float* lse,
                    void* workspace, std::string* why) {
  if (!impl_->graph) {
    *why = "CudnnSdpa::run before a successful build";
    return false;
  }
  std::unordered_map<int64_t, void*> pack = {
      {kUidQ, const_cast<void*>(q)}, {kUidK, const_cast<void*>(k)},
      {kUidV, const_cast<void*>(v)}, {kUidO, o}};
  if (impl_->lse) pack[kUidStats] = lse;
  fe::error_t e = impl_->graph->execute(impl_->handle, pack, workspace);
  if (e.is_bad()) {
    *why = fe_error("execute", e);
    return false;
  }
  return true;
}

std::string CudnnSdpa::plan_name() const {
  if (!impl_->graph) return "";
  std::string name;
  if (impl_->graph->get_plan_name(name).is_bad()) return "";
  return name;
}

#endif  // PTXFMHA_BENCH_NO_CUDNN

}  // namespace ptxfmha_bench
