// Family "fwd": prefill forward, ptxfmha_fwd (or a kernel-table variant through fwd_with_row)
// against cuDNN's dense SDPA forward. Also the registry's shared helpers.
#include <cstring>
#include <vector>

#include "bench_family.h"
#include "bench_options.h"
#include "fwd.h"
#include "kernel_table.h"

namespace ptxfmha_bench {

namespace {
std::vector<std::unique_ptr<Family>>& registry() {
  static std::vector<std::unique_ptr<Family>> r;
  return r;
}
}  // namespace

FamilyRegistrar::FamilyRegistrar(std::unique_ptr<Family> f) { registry().push_back(std::move(f)); }

const Family* family_for(const std::string& id) {
  for (const auto& f : registry())
    if (id == f->id()) return f.get();
  return nullptr;
}

SdpaProblem Family::cudnn_problem(const Case& c) const {
  SdpaProblem p;
  p.batch = c.batch; p.seqlen_q = c.seqlen_q; p.seqlen_k = c.seqlen_k;
  p.heads_q = c.heads_q; p.heads_kv = c.heads_kv; p.head_dim = c.head_dim;
  dense_strides(c.seqlen_q, c.heads_q, c.head_dim, p.q_stride);
  dense_strides(c.seqlen_k, c.heads_kv, c.head_dim, p.k_stride);
  dense_strides(c.seqlen_k, c.heads_kv, c.head_dim, p.v_stride);
  dense_strides(c.seqlen_q, c.heads_q, c.head_dim, p.o_stride);
  p.softmax_scale = softmax_scale(c);
  p.causal = c.causal;
  p.lse = true;
  return p;
}

float ours_scale(const Case& c) { return softmax_scale(c) * static_cast<float>(g_opt.perturb_scale); }

std::string no_kernel_message(const Case& c, ptxfmha::KernelKind kind, const char* what) {
  return std::string("no ptx-fmha ") + what + " kernel for head_dim " + std::to_string(c.head_dim) +
         " on " + (g_dev.arch ? g_dev.arch : "this device") + " (head dims with kernels: " +
         ptxfmha::head_dims_string(ptxfmha::supported_head_dims(g_dev.sm, kind)) + ")";
}

std::string status_message(const char* call, ptxfmha_status st) {
  if (st == PTXFMHA_OK) return "";
  return std::string(call) + ": " + ptxfmha_status_string(st) + ": " + ptxfmha_last_error();
}

ptxfmha_fwd_params dense_fwd_params(const Case& c, const SetView& v, float softmax_scale) {
  int64_t st[3], kst[3];
  dense_strides(c.seqlen_q, c.heads_q, c.head_dim, st);
  dense_strides(c.seqlen_k, c.heads_kv, c.head_dim, kst);
  ptxfmha_fwd_params f{};
  f.q = v.q; f.k = v.k; f.v = v.v; f.o = v.o; f.lse = v.lse;
  f.q_batch_stride = st[0]; f.q_seq_stride = st[1]; f.q_head_stride = st[2];
  f.o_batch_stride = st[0]; f.o_seq_stride = st[1]; f.o_head_stride = st[2];
  f.k_batch_stride = kst[0]; f.k_seq_stride = kst[1]; f.k_head_stride = kst[2];
  f.v_batch_stride = kst[0]; f.v_seq_stride = kst[1]; f.v_head_stride = kst[2];
  f.batch = int32_t(c.batch); f.seqlen_q = int32_t(c.seqlen_q); f.seqlen_k = int32_t(c.seqlen_k);
  f.heads_q = int32_t(c.heads_q); f.heads_kv = int32_t(c.heads_kv); f.head_dim = int32_t(c.head_dim);
  f.softmax_scale = softmax_scale;
  f.causal = c.causal ? 1 : 0;
  f.stream = g_stream;
  return f;
}

namespace {

class FwdFamily final : public Family {
 public:
  const char* id() const override { return "fwd"; }

  std::string ours_prepare(const Case& c, const SetView&, OursPlan* plan) const override {
    plan->kernel = ptxfmha::find_kernel(g_dev.sm, ptxfmha::KernelKind::Fwd, int(c.head_dim));
    if (!g_opt.fwd_kernel.empty()) {  // --ptxfmha_fwd_kernel: a variant of this head dim
      const ptxfmha::KernelInfo* r = forward_row_named(g_opt.fwd_kernel);
      if (r != nullptr && r->head_dim == c.head_dim && plan->kernel != nullptr &&
          std::strcmp(r->arch, plan->kernel->arch) == 0) {
        plan->kernel = r;
        plan->forced = true;
      }
    }
    return plan->kernel ? "" : no_kernel_message(c, ptxfmha::KernelKind::Fwd, "forward");
  }

  std::string ours_launch(const Case& c, const OursPlan& plan, const SetView& v) const override {
    const ptxfmha_fwd_params f = dense_fwd_params(c, v, ours_scale(c));
    return status_message("ptxfmha_fwd",
                          plan.forced ? ptxfmha::fwd_with_row(&f, plan.kernel) : ptxfmha_fwd(&f));
  }
};

const FamilyRegistrar kFwd(std::make_unique<FwdFamily>());

}  // namespace
}  // namespace ptxfmha_bench
