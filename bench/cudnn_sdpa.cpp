// cuDNN fused SDPA forward through cudnn-frontend's graph API (header-only C++), calling
// cuDNN through the dlopen handle of cudnn_loader.cpp (NV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING).
//
// Built without cudnn-frontend or cuDNN headers (PTXFMHA_BENCH_NO_CUDNN, decided by
// bench.mk), CudnnSdpa::build() refuses with a message saying so, and the bench still times
// ptx-fmha.
#include "cudnn_sdpa.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <unordered_map>

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

struct CudnnSdpa::Impl {
  std::vector<SdpaPlan> plans;
};
CudnnSdpa::CudnnSdpa() : impl_(new Impl) {}
CudnnSdpa::~CudnnSdpa() = default;
bool CudnnSdpa::build(const SdpaProblem&, CUstream, bool, int, std::string* why) {
  *why = "bench was built without cuDNN support (cudnn.h or cudnn-frontend headers were not "
         "found at build time; run `make deps`)";
  return false;
}
const std::vector<SdpaPlan>& CudnnSdpa::plans() const { return impl_->plans; }
bool CudnnSdpa::select(int) { return false; }
int CudnnSdpa::selected() const { return -1; }
std::size_t CudnnSdpa::workspace_bytes() const { return 0; }
std::size_t CudnnSdpa::max_workspace_bytes() const { return 0; }
bool CudnnSdpa::run(const SdpaBuffers&, std::string* why) {
  *why = "cuDNN support not built";
  return false;
}
bool CudnnSdpa::run_plan(int, const SdpaBuffers&, std::string* why) {
  *why = "cuDNN support not built";
  return false;
}
std::string CudnnSdpa::plan_name() const { return ""; }

#else

namespace fe = cudnn_frontend;

std::size_t cudnn_compiled_version() { return CUDNN_VERSION; }
std::size_t cudnn_frontend_version() { return CUDNN_FRONTEND_VERSION; }

namespace {
constexpr int64_t kUidQ = 1, kUidK = 2, kUidV = 3, kUidO = 4, kUidStats = 5, kUidPageTableK = 6,
                  kUidPageTableV = 7, kUidSeqLenQ = 8, kUidSeqLenKV = 9;
// The serving features' tensors (family_attn.cpp): ragged offsets, the sink logits.
constexpr int64_t kUidRaggedQ = 10, kUidRaggedK = 11, kUidRaggedV = 12, kUidRaggedO = 13, kUidSink = 14;
// backward (section at the end)
constexpr int64_t kUidDO = 20, kUidDQ = 21, kUidDK = 22, kUidDV = 23;

std::string fe_error(const char* stage, fe::error_t e) {
  std::ostringstream s;
  s << "cuDNN " << stage << ": " << e.get_message();
  return s.str();
}

// Enum values as the frontend's JSON spells them ("TILE_SIZE", "RUNTIME_COMPILATION").
template <class E>
std::string enum_text(E e) {
  try {
    nlohmann::json j = e;
    if (j.is_string()) return j.get<std::string>();
  } catch (const std::exception&) {
  }
  return std::to_string(static_cast<long long>(e));
}
}  // namespace

struct CudnnSdpa::Impl {
  cudnnHandle_t handle = nullptr;
  std::unique_ptr<fe::graph::Graph> graph;
  std::vector<SdpaPlan> plans;
  int selected = -1;
  bool lse = true, paged = false, backward = false;
  SdpaProblem problem;  // the serving features' device arrays are bound from it at every run
  ~Impl() {
    graph.reset();
    if (handle) fe::detail::destroy_handle(handle);
  }
};

CudnnSdpa::CudnnSdpa() : impl_(new Impl) {}
CudnnSdpa::~CudnnSdpa() = default;

namespace {
// The SDPA backward graph of a problem (section "backward" below).
bool make_bwd_graph(const SdpaProblem& p, cudnnHandle_t handle, std::unique_ptr<fe::graph::Graph>* out,
                    std::string* why);

// The SDPA graph of a problem (validated, operation graph built, no plans yet).
bool make_graph(const SdpaProblem& p, cudnnHandle_t handle, std::unique_ptr<fe::graph::Graph>* out,
                std::string* why) {
  auto g = std::make_unique<fe::graph::Graph>();
  g->set_io_data_type(fe::DataType_t::BFLOAT16)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);

  // cuDNN's logical order is [b, h, s, d]; our memory order [b, s, h, d] is expressed by the
  // strides, so no data moves. A paged pool is [pages, h, page_size, d] the same way.
  auto tensor = [&](const char* name, int64_t uid, int64_t b, int64_t s, int64_t h,
                    const int64_t st3[3]) {
    return g->tensor(fe::graph::Tensor_attributes()
                         .set_name(name)
                         .set_uid(uid)
                         .set_dim({b, h, s, p.head_dim})
                         .set_stride({st3[0], st3[2], st3[1], 1}));
  };
  const bool paged = p.page_size > 0;
  auto Q = tensor("Q", kUidQ, p.batch, p.seqlen_q, p.heads_q, p.q_stride);
  auto K = paged ? tensor("K_pool", kUidK, p.num_pages, p.page_size, p.heads_kv, p.k_stride)
                 : tensor("K", kUidK, p.batch, p.seqlen_k, p.heads_kv, p.k_stride);
  auto V = paged ? tensor("V_pool", kUidV, p.num_pages, p.page_size, p.heads_kv, p.v_stride)
                 : tensor("V", kUidV, p.batch, p.seqlen_k, p.heads_kv, p.v_stride);
  // int32 [rows, 1, cols, 1] metadata (page tables, sequence lengths, ragged offsets)
  auto i32 = [&](const char* name, int64_t uid, int64_t rows, int64_t cols) {
    return g->tensor(fe::graph::Tensor_attributes()
                         .set_name(name)
                         .set_uid(uid)
                         .set_dim({rows, 1, cols, 1})
                         .set_stride({cols, cols, 1, 1})
                         .set_data_type(fe::DataType_t::INT32));
  };
  std::shared_ptr<fe::graph::Tensor_attributes> ragged_o;
  if (p.ragged) {  // THD: each sequence starts at its element offset
    Q->set_ragged_offset(i32("ragged_q", kUidRaggedQ, p.batch + 1, 1));
    K->set_ragged_offset(i32("ragged_k", kUidRaggedK, p.batch + 1, 1));
    V->set_ragged_offset(i32("ragged_v", kUidRaggedV, p.batch + 1, 1));
    ragged_o = i32("ragged_o", kUidRaggedO, p.batch + 1, 1);
  }

  auto opts = fe::graph::SDPA_attributes()
                  .set_name("sdpa")
                  .set_generate_stats(p.lse)
                  .set_attn_scale(p.softmax_scale);
  if (p.causal) {
    // ptx-fmha: query row i sees keys j <= i + seqlen_k - seqlen_q.
    opts.set_diagonal_alignment(fe::DiagonalAlignment_t::BOTTOM_RIGHT)
        .set_diagonal_band_right_bound(0);
  }
  if (paged) {
    opts.set_padding_mask(true)
        .set_seq_len_q(i32("seq_len_q", kUidSeqLenQ, p.batch, 1))
        .set_seq_len_kv(i32("seq_len_kv", kUidSeqLenKV, p.batch, 1))
        .set_paged_attention_k_table(i32("page_table_k", kUidPageTableK, p.batch, p.table_cols))
        .set_paged_attention_v_table(i32("page_table_v", kUidPageTableV, p.batch, p.table_cols))
        .set_paged_attention_max_seq_len_kv(static_cast<int>(p.seqlen_k));
  } else if (p.ragged) {
    opts.set_padding_mask(true)
        .set_seq_len_q(i32("seq_len_q", kUidSeqLenQ, p.batch, 1))
        .set_seq_len_kv(i32("seq_len_kv", kUidSeqLenKV, p.batch, 1));
  }
  // FlashAttention's window_size_left w (keys j >= i - w) is cuDNN's left bound w + 1 (keys
  // j > i - bound), both relative to the bottom-right diagonal.
  if (p.window_left >= 0) opts.set_diagonal_band_left_bound(static_cast<int>(p.window_left + 1));
  if (p.sink)
    opts.set_sink_token(g->tensor(fe::graph::Tensor_attributes()
                                      .set_name("sink")
                                      .set_uid(kUidSink)
                                      .set_dim({1, p.heads_q, 1, 1})
                                      .set_stride({p.heads_q, 1, 1, 1})
                                      .set_data_type(fe::DataType_t::FLOAT)));
  if (p.softcap > 0) {  // SdpaProblem::softcap: dense, unmasked problems only
    if (!p.softcap_expressible()) {
      *why = "cudnn-frontend refuses a score modifier (softcap) with a mask (causal, band, padding)";
      return false;
    }
    const float cap = p.softcap;
    auto softcap = std::make_shared<fe::graph::attn::score_modifiers::Softcap>();
    opts.set_score_mod([cap, softcap](std::shared_ptr<fe::graph::Graph> sub,
                                      std::shared_ptr<fe::graph::Tensor_attributes> score) {
      return softcap->forward(sub, score, std::make_shared<fe::graph::Tensor_attributes>(cap));
    });
  }
  auto [O, Stats] = g->sdpa(Q, K, V, opts);
  O->set_output(true)
      .set_uid(kUidO)
      .set_dim({p.batch, p.heads_q, p.seqlen_q, p.head_dim})
      .set_stride({p.o_stride[0], p.o_stride[2], p.o_stride[1], 1});
  if (ragged_o) O->set_ragged_offset(ragged_o);
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
  e = g->build_operation_graph(handle);
  if (e.is_bad()) { *why = fe_error("build_operation_graph", e); return false; }
  *out = std::move(g);
  return true;
}
}  // namespace

bool CudnnSdpa::build(const SdpaProblem& p, CUstream stream, bool all_modes, int max_plans,
                      std::string* why) {
  if (p.kv_e4m3) {  // see SdpaProblem::kv_e4m3
    *why = "cuDNN 9.19 cannot express bf16 Q/O with an e4m3 K/V cache and per-head scales on Hopper "
           "(sdpa_fp8 needs Q, K, V in FP8 with per-tensor descales and writes FP8 O; bf16 O only "
           "on Blackwell); ptx-fmha side only";
    return false;
  }
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
    std::unique_ptr<fe::graph::Graph> g;
    if (!(p.backward ? make_bwd_graph(p, impl_->handle, &g, why) : make_graph(p, impl_->handle, &g, why)))
      return false;
    std::vector<fe::HeurMode_t> modes = {fe::HeurMode_t::A};
    if (all_modes) modes = {fe::HeurMode_t::A, fe::HeurMode_t::B, fe::HeurMode_t::FALLBACK};
    fe::error_t e = g->create_execution_plans(modes);
    if (e.is_bad()) { *why = fe_error("create_execution_plans", e); return false; }
    // At least one configuration supports the graph (this also records the device's SM
    // version in the graph's context, as cuDNN's own build path does).
    e = g->check_support();
    if (e.is_bad()) { *why = fe_error("check_support", e); return false; }

    // Every configuration in heuristics order: duplicates (another mode offered the same tag)
    // are listed, not built; the others are checked and built, up to max_plans of them (only
    // the first that builds without all_modes: cuDNN's own choice).
    impl_->plans.clear();
    const int64_t count = g->get_execution_plan_count();
    int built = 0;
    std::string failures;
    for (int64_t i = 0; i < count; ++i) {
      SdpaPlan plan;
      plan.index = int(i);
      if (g->get_plan_name_at_index(i, plan.tag).is_bad()) plan.tag.clear();
      int64_t eng = -1;
      std::unordered_map<fe::KnobType_t, int64_t> knobs;
      if (g->get_engine_and_knobs_at_index(i, eng, knobs).is_good()) {
        plan.engine_id = eng;
        std::vector<std::pair<std::string, int64_t>> sorted;
        for (auto& kv : knobs) sorted.push_back({enum_text(kv.first), kv.second});
        std::sort(sorted.begin(), sorted.end());
        for (auto& kv : sorted)
          plan.knobs += (plan.knobs.empty() ? "" : " ") + kv.first + "=" + std::to_string(kv.second);
      }
      std::vector<fe::BehaviorNote_t> notes;
      if (g->get_behavior_notes_for_plan_at_index(i, notes).is_good())
        for (auto n : notes) plan.notes += (plan.notes.empty() ? "" : ",") + enum_text(n);
      for (const SdpaPlan& q : impl_->plans)
        if (q.tag == plan.tag && !plan.tag.empty()) {
          plan.why = "duplicate of #" + std::to_string(q.index);
          break;
        }
      const bool want = plan.why.empty() && built < (all_modes ? max_plans : 1);
      if (want) {
        const auto t0 = std::chrono::steady_clock::now();
        e = g->build_plan_at_index(i);
        plan.build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (e.is_good()) {
          int64_t ws = 0;
          e = g->get_workspace_size_plan_at_index(i, ws);
          if (e.is_good()) {
            plan.workspace = ws;
            plan.built = true;
            ++built;
          }
        }
        if (!plan.built) {
          plan.why = "not supported: " + e.get_message();
          failures += "\n  #" + std::to_string(i) + " " + plan.tag + ": " + e.get_message();
        }
      } else if (plan.why.empty()) {
        plan.why = all_modes ? "over --ptxfmha_cudnn_max_plans" : "not tried (heuristics' choice found)";
      }
      impl_->plans.push_back(plan);
    }
    if (built == 0) {
      *why = "cuDNN: no engine configuration supports the graph (" + std::to_string(count) +
             " offered)" + failures;
      return false;
    }
    impl_->lse = p.lse;
    impl_->paged = p.page_size > 0;
    impl_->backward = p.backward;
    impl_->problem = p;
    impl_->graph = std::move(g);
    impl_->selected = -1;
    for (const SdpaPlan& q : impl_->plans)
      if (q.built) {
        impl_->selected = q.index;
        break;
      }
    return true;
  } catch (const std::exception& ex) {
    *why = std::string("cuDNN frontend threw: ") + ex.what();
    return false;
  }
}

const std::vector<SdpaPlan>& CudnnSdpa::plans() const { return impl_->plans; }

bool CudnnSdpa::select(int i) {
  if (i < 0 || i >= int(impl_->plans.size()) || !impl_->plans[i].built) return false;
  impl_->selected = i;
  return true;
}

int CudnnSdpa::selected() const { return impl_->selected; }

std::size_t CudnnSdpa::workspace_bytes() const {
  const int i = impl_->selected;
  return i < 0 ? 0 : static_cast<std::size_t>(impl_->plans[i].workspace);
}

std::size_t CudnnSdpa::max_workspace_bytes() const {
  int64_t m = 0;
  for (const SdpaPlan& p : impl_->plans)
    if (p.built) m = std::max(m, p.workspace);
  return static_cast<std::size_t>(m);
}

bool CudnnSdpa::run(const SdpaBuffers& b, std::string* why) {
  return run_plan(impl_->selected, b, why);
}

bool CudnnSdpa::run_plan(int i, const SdpaBuffers& b, std::string* why) {
  if (!impl_->graph || i < 0 || i >= int(impl_->plans.size()) || !impl_->plans[i].built) {
    *why = "CudnnSdpa::run_plan: plan " + std::to_string(i) + " is not built";
    return false;
  }
  std::unordered_map<int64_t, void*> pack = {
      {kUidQ, const_cast<void*>(b.q)}, {kUidK, const_cast<void*>(b.k)},
      {kUidV, const_cast<void*>(b.v)}, {kUidO, b.o}};
  if (impl_->lse) pack[kUidStats] = b.lse;
  if (impl_->backward) {  // O and the stats are inputs then
    pack[kUidDO] = const_cast<void*>(b.dout);
    pack[kUidDQ] = b.dq;
    pack[kUidDK] = b.dk;
    pack[kUidDV] = b.dv;
  }
  if (impl_->paged) {
    pack[kUidPageTableK] = const_cast<int32_t*>(b.page_table);
    pack[kUidPageTableV] = const_cast<int32_t*>(b.page_table);
    pack[kUidSeqLenQ] = const_cast<int32_t*>(b.seq_len_q);
    pack[kUidSeqLenKV] = const_cast<int32_t*>(b.seq_len_kv);
  }
  const SdpaProblem& pr = impl_->problem;
  if (pr.ragged) {
    pack[kUidRaggedQ] = const_cast<int32_t*>(pr.ragged_q);
    pack[kUidRaggedO] = const_cast<int32_t*>(pr.ragged_q);
    pack[kUidRaggedK] = const_cast<int32_t*>(pr.ragged_kv);
    pack[kUidRaggedV] = const_cast<int32_t*>(pr.ragged_kv);
    if (!impl_->paged) {
      pack[kUidSeqLenQ] = const_cast<int32_t*>(pr.seq_len_q);
      pack[kUidSeqLenKV] = const_cast<int32_t*>(pr.seq_len_kv);
    }
  }
  if (pr.sink) pack[kUidSink] = const_cast<float*>(pr.sink_logits);
  fe::error_t e = impl_->graph->execute_plan_at_index(impl_->handle, pack, b.workspace, i);
  if (e.is_bad()) {
    *why = fe_error("execute", e);
    return false;
  }
  return true;
}

std::string CudnnSdpa::plan_name() const {
  const int i = impl_->selected;
  return i < 0 ? "" : impl_->plans[i].tag;
}

// ---- backward (bench/family_bwd.cpp, tests/test_gpu_bwd.cpp) -------------------------------------
// cuDNN's SDPA backward: dQ, dK, dV from Q, K, V, O, dO and the forward's softmax statistics
// (natural-log LSE, fp32 [batch, heads_q, seqlen_q]: what ptx-fmha's forward writes), the same
// scale and bottom-right causal mask as the forward graph; optionally cuDNN's deterministic
// algorithm. Tensors in ptx-fmha's [b, s, h, d] memory order through strides, as above.
namespace {
bool make_bwd_graph(const SdpaProblem& p, cudnnHandle_t handle, std::unique_ptr<fe::graph::Graph>* out,
                    std::string* why) {
  if (p.page_size > 0 || !p.lse) {
    *why = "SDPA backward: paged K/V or a problem without the forward's LSE is not set up";
    return false;
  }
  auto g = std::make_unique<fe::graph::Graph>();
  g->set_io_data_type(fe::DataType_t::BFLOAT16)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
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
  auto O = tensor("O", kUidO, p.seqlen_q, p.heads_q, p.o_stride);
  auto dO = tensor("dO", kUidDO, p.seqlen_q, p.heads_q, p.o_stride);
  auto Stats = g->tensor(fe::graph::Tensor_attributes()
                             .set_name("Stats")
                             .set_uid(kUidStats)
                             .set_dim({p.batch, p.heads_q, p.seqlen_q, 1})
                             .set_stride({p.heads_q * p.seqlen_q, p.seqlen_q, 1, 1})
                             .set_data_type(fe::DataType_t::FLOAT));
  auto opts = fe::graph::SDPA_backward_attributes().set_name("sdpa_backward").set_attn_scale(p.softmax_scale);
  if (p.causal)
    opts.set_diagonal_alignment(fe::DiagonalAlignment_t::BOTTOM_RIGHT).set_diagonal_band_right_bound(0);
  if (p.deterministic) opts.set_deterministic_algorithm(true);
  auto [dQ, dK, dV] = g->sdpa_backward(Q, K, V, O, dO, Stats, opts);
  auto output = [](std::shared_ptr<fe::graph::Tensor_attributes> t, int64_t uid, int64_t b, int64_t h, int64_t s,
                   int64_t d, const int64_t st3[3]) {
    t->set_output(true).set_uid(uid).set_dim({b, h, s, d}).set_stride({st3[0], st3[2], st3[1], 1});
  };
  output(dQ, kUidDQ, p.batch, p.heads_q, p.seqlen_q, p.head_dim, p.q_stride);
  output(dK, kUidDK, p.batch, p.heads_kv, p.seqlen_k, p.head_dim, p.k_stride);
  output(dV, kUidDV, p.batch, p.heads_kv, p.seqlen_k, p.head_dim, p.v_stride);
  fe::error_t e = g->validate();
  if (e.is_bad()) { *why = fe_error("validate (backward)", e); return false; }
  e = g->build_operation_graph(handle);
  if (e.is_bad()) { *why = fe_error("build_operation_graph (backward)", e); return false; }
  *out = std::move(g);
  return true;
}
}  // namespace

#endif  // PTXFMHA_BENCH_NO_CUDNN

}  // namespace ptxfmha_bench
