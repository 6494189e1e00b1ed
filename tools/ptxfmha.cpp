// ptxfmha: the project's command-line tool.
//
//   ptxfmha info              device, architecture, cuDNN, and every kernel of the table: its
//                             cubin, registers / spills / shared memory from the ptxas -v
//                             report, and (on a device of its architecture) what the driver
//                             says through cuFuncGetAttribute
//   ptxfmha check [--long]    every kernel of this device's architecture on a default set of
//                             shapes against the float64 CPU reference; prints error figures
//   ptxfmha bench [--out DIR] [--quick] [-- BENCH_ARGS...]
//                             runs ptxfmha_bench (next to this binary): comparison table with
//                             cuDNN, JSON, then tools/plot_bench.py: PNG plot + Markdown table
//   ptxfmha decode-plans [--grid NAME] [--cache bf16|e4m3] [--sms N] [--smem-kib K] [--filter REGEX]
//                             the split plan the library would run for every decode cell of a
//                             bench grid, offline (bench/decode_replay.h): cell, row, CTAs per
//                             SM, splits, split CTAs; diff two builds' output to find the cells
//                             a plan change moves (bench/METHOD.md, "Decode A/B"); --filter
//                             as the bench's --benchmark_filter (extended regex, '-' negates)
//   ptxfmha placement [--sizes N,N,...] [--cta-mib M] [--smem-kib K] [--threads T] [--reps R] [--raw]
//                             where a grid's CTAs run and how fast each reads
//                             (bench/placement_probe.h): per grid size the kernel time and GB/s,
//                             the SMs and TPCs used, and the median read time of CTAs that share
//                             their TPC against CTAs alone on theirs; --raw adds every record
//   ptxfmha decode-trace --cell NAME --splits N [--reps R] [--raw]
//                             where and when each CTA of a decode split kernel runs
//                             (bench/cta_trace.h; needs PTXFMHA_CUBIN_DIR at the traced cubins of
//                             `make cubin-trace`): CTA durations overall and per split index;
//                             --raw adds every record in `placement --raw`'s form
//   ptxfmha version
//
// Exit status: 0 success (info and bench also when there is no GPU: they say so), 1 a check
// failed or the bench failed, 2 usage, 77 `check`, `placement` or `decode-trace` could not run
// (no GPU / no kernels): SKIPPED.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "bench_case.h"
#include "bench_util.h"
#include "decode_replay.h"
#include "cta_trace.h"
#include "placement_probe.h"
#include "cudnn_sdpa.h"
#include "driver.h"
#include "kernel_table.h"
#include "ptxfmha/ptxfmha.h"
#include "runtime.h"

#ifndef PTXFMHA_SOURCE_DIR
#define PTXFMHA_SOURCE_DIR "."
#endif

// Weak: the decode entry points may not be implemented yet in this library (see bench_fmha.cpp).
extern "C" ptxfmha_status ptxfmha_decode(const ptxfmha_decode_params* params) __attribute__((weak));
extern "C" ptxfmha_status ptxfmha_decode_workspace_size(const ptxfmha_decode_params* params,
                                                       uint64_t* bytes) __attribute__((weak));

namespace pb = ptxfmha_bench;
using ptxfmha::KernelInfo;
using ptxfmha::KernelKind;

namespace {

const char* kind_name(KernelKind k) {
  switch (k) {
    case KernelKind::Fwd: return "fwd";
    case KernelKind::Decode: return "decode";
    case KernelKind::DecodeCombine: return "combine";
    case KernelKind::BwdPre: return "bwd-pre";
    case KernelKind::Bwd: return "bwd";
    case KernelKind::BwdPost: return "bwd-post";
    case KernelKind::DecodeVariant: return "decode-variant";
    case KernelKind::DecodeCombineVariant: return "combine-variant";
  }
  return "?";
}

std::string self_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  std::string p = buf;
  return p.substr(0, p.find_last_of('/'));
}

bool file_exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// What `ptxas -v` said about a kernel (the report written beside each cubin by the Makefile).
struct PtxasReport {
  bool found = false;
  int registers = -1, barriers = -1;
  long spill_stores = -1, spill_loads = -1, stack_bytes = -1, smem_bytes = -1;
};

PtxasReport read_ptxas_report(const std::string& path) {
  PtxasReport r;
  std::ifstream in(path);
  if (!in) return r;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string t = ss.str();
  r.found = true;
  std::smatch m;
  auto grab = [&](const char* re, long* out) {
    if (std::regex_search(t, m, std::regex(re))) *out = std::stol(m[1]);
  };
  long regs = -1, bars = -1;
  grab("Used ([0-9]+) registers", &regs);
  grab("used ([0-9]+) barriers", &bars);
  r.registers = int(regs);
  r.barriers = int(bars);
  grab("([0-9]+) bytes spill stores", &r.spill_stores);
  grab("([0-9]+) bytes spill loads", &r.spill_loads);
  grab("([0-9]+) bytes stack frame", &r.stack_bytes);
  grab("([0-9]+) bytes smem", &r.smem_bytes);
  if (r.smem_bytes < 0) r.smem_bytes = 0;  // ptxas prints static smem only when it is non-zero
  return r;
}

// ---- info ------------------------------------------------------------------------------------
int cmd_info() {
  std::printf("ptx-fmha %s\n", ptxfmha_version());
  const std::string dir = ptxfmha::cubin_dir();
  std::printf("cubin dir: %s\n", dir.c_str());

  ptxfmha::DeviceInfo dev;
  bool have_gpu = false;
  std::string gpu_msg;
  std::string init_msg;
  ptxfmha_status st = ptxfmha::driver_init(&init_msg);
  if (st == PTXFMHA_OK) st = ptxfmha::acquire_context(&dev);
  if (st == PTXFMHA_OK) {
    have_gpu = true;
    const auto& d = ptxfmha::drv();
    char name[256] = {0};
    d.cuDeviceGetName(name, sizeof name, dev.device);
    size_t mem = 0;
    d.cuDeviceTotalMem(&mem, dev.device);
    int l2 = 0;
    d.cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, dev.device);
    std::printf("device: %s, compute capability %d.%d, %d SMs, %.1f GiB, L2 %d MiB, "
                "shared memory opt-in %d KiB/block, CUDA driver %d.%d\n",
                name, dev.cc_major, dev.cc_minor, dev.num_sms, mem / 1073741824.0, l2 >> 20,
                dev.max_smem_optin_bytes >> 10, d.driver_version / 1000, (d.driver_version % 1000) / 10);
    if (dev.arch)
      std::printf("architecture: %s (kernels in %s/%s/)\n", dev.arch, dir.c_str(), dev.arch);
    else
      std::printf("architecture: none: ptx-fmha has no kernels for compute capability %d.%d\n",
                  dev.cc_major, dev.cc_minor);
  } else {
    gpu_msg = !init_msg.empty() ? init_msg : std::string(ptxfmha_last_error());
    std::printf("device: none (%s: %s)\n", ptxfmha_status_string(st), gpu_msg.c_str());
    std::printf("NOTE: no GPU here. Running kernels (ptxfmha check, ptxfmha bench, make run, GPU "
                "tests) needs a GPU; the rest of this report comes from the build.\n");
  }

  const pb::CudnnLibrary& cud = pb::cudnn_library();
  if (cud.loaded)
    std::printf("cuDNN (bench baseline): %s at %s\n", cud.version_string().c_str(), cud.path.c_str());
  else
    std::printf("cuDNN (bench baseline): absent\n%s\n", cud.why.c_str());

  std::vector<const KernelInfo*> rows = ptxfmha::all_kernels();
  std::printf("\nkernels (%zu rows in the kernel table):\n", rows.size());
  std::printf("%-32s %-6s %-7s %4s %8s %4s %7s  %-7s | %-34s | %s\n", "name", "arch", "kind", "D",
              "tile", "thr", "smem", "cubin", "ptxas: regs/spill st,ld/stack/smem",
              "driver: regs/static smem/local/max thr");
  for (const KernelInfo* k : rows) {
    const std::string cubin = ptxfmha::cubin_path(dir, k->arch, k->name);
    const std::string report = cubin.substr(0, cubin.size() - 6) + ".ptxas.txt";
    std::string cubin_state = "missing";
    if (file_exists(cubin)) {
      ptxfmha::CubinTarget t;
      cubin_state = ptxfmha::read_cubin_target(cubin, &t) == PTXFMHA_OK ? t.name() : "invalid";
    }
    PtxasReport r = read_ptxas_report(report);
    char ptxas[96];
    if (r.found)
      std::snprintf(ptxas, sizeof ptxas, "%d / %ld,%ld / %ld / %ld", r.registers, r.spill_stores,
                    r.spill_loads, r.stack_bytes, r.smem_bytes);
    else
      std::snprintf(ptxas, sizeof ptxas, "(no report)");
    std::string drv = "-";
    if (have_gpu && dev.arch && std::strcmp(dev.arch, k->arch) == 0) {
      ptxfmha::LoadedKernel lk;
      if (ptxfmha::get_kernel(dev, *k, &lk) == PTXFMHA_OK) {
        const auto& d = ptxfmha::drv();
        int regs = 0, smem = 0, local = 0, maxthr = 0;
        d.cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, lk.function);
        d.cuFuncGetAttribute(&smem, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, lk.function);
        d.cuFuncGetAttribute(&local, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, lk.function);
        d.cuFuncGetAttribute(&maxthr, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, lk.function);
        char b[96];
        std::snprintf(b, sizeof b, "%d / %d / %d / %d", regs, smem, local, maxthr);
        drv = b;
      } else {
        drv = std::string("load failed: ") + ptxfmha_last_error();
      }
    } else if (have_gpu) {
      drv = "(other arch)";
    }
    char tile[32];
    std::snprintf(tile, sizeof tile, "%dx%d", k->block_m, k->block_n);
    std::printf("%-32s %-6s %-7s %4d %8s %4d %7d  %-7s | %-34s | %s\n", k->name, k->arch,
                kind_name(k->kind), k->head_dim, tile, k->threads, k->smem_bytes,
                cubin_state.c_str(), ptxas, drv.c_str());
  }
  std::printf("(tile = block_m x block_n; smem = dynamic shared memory bytes from the table; "
              "ptxas and driver smem = static shared memory bytes; spills, stack and local in bytes)\n");
  return 0;
}

// ---- check -------------------------------------------------------------------------------------
struct Shape {
  int b, sq, sk, hq, hkv;
  bool causal;
};

struct CheckResult {
  bool ran = false;
  std::string error;
  pb::Agreement agree;
};

uint64_t g_seed = 1234;

// Runs one problem through ptxfmha_fwd (decode=false) or ptxfmha_decode and compares with the
// float64 reference. Fresh random inputs, NaN-poisoned outputs.
CheckResult run_check(const KernelInfo& k, const Shape& s, CUstream stream) {
  CheckResult res;
  const int64_t D = k.head_dim;
  const int64_t qn = int64_t(s.b) * s.sq * s.hq * D, kn = int64_t(s.b) * s.sk * s.hkv * D,
                ln = int64_t(s.b) * s.hq * s.sq;
  std::vector<uint16_t> q(qn), kk(kn), v(kn), o(qn);
  std::vector<float> lse(ln);
  pb::fill_normal_bf16(q.data(), q.size(), ++g_seed);
  pb::fill_normal_bf16(kk.data(), kk.size(), ++g_seed);
  pb::fill_normal_bf16(v.data(), v.size(), ++g_seed);
  const float scale = 1.0f / std::sqrt(float(D));
  try {
    const auto& d = ptxfmha::drv();
    pb::DeviceBuffer dq(qn * 2), dk(kn * 2), dv(kn * 2), dout(qn * 2), dl(ln * 4), ws;
    pb::cu_check(d.cuMemcpyHtoD(dq.ptr(), q.data(), qn * 2), "cuMemcpyHtoD");
    pb::cu_check(d.cuMemcpyHtoD(dk.ptr(), kk.data(), kn * 2), "cuMemcpyHtoD");
    pb::cu_check(d.cuMemcpyHtoD(dv.ptr(), v.data(), kn * 2), "cuMemcpyHtoD");
    pb::cu_check(d.cuMemsetD16(dout.ptr(), 0xFFFF, qn), "cuMemsetD16");
    pb::cu_check(d.cuMemsetD32(dl.ptr(), 0xFFFFFFFFu, ln), "cuMemsetD32");
    // The copies and memsets above ran on the legacy stream, which `stream`
    // (CU_STREAM_NON_BLOCKING) does not wait for.
    pb::cu_check(d.cuCtxSynchronize(), "cuCtxSynchronize");
    int64_t qs[3], ks[3];
    pb::dense_strides(s.sq, s.hq, D, qs);
    pb::dense_strides(s.sk, s.hkv, D, ks);
    ptxfmha_status st;
    if (k.kind == KernelKind::Fwd) {
      ptxfmha_fwd_params p{};
      p.q = dq.get(); p.k = dk.get(); p.v = dv.get(); p.o = dout.get();
      p.lse = static_cast<float*>(dl.get());
      p.q_batch_stride = qs[0]; p.q_seq_stride = qs[1]; p.q_head_stride = qs[2];
      p.o_batch_stride = qs[0]; p.o_seq_stride = qs[1]; p.o_head_stride = qs[2];
      p.k_batch_stride = ks[0]; p.k_seq_stride = ks[1]; p.k_head_stride = ks[2];
      p.v_batch_stride = ks[0]; p.v_seq_stride = ks[1]; p.v_head_stride = ks[2];
      p.batch = s.b; p.seqlen_q = s.sq; p.seqlen_k = s.sk; p.heads_q = s.hq; p.heads_kv = s.hkv;
      p.head_dim = int32_t(D); p.softmax_scale = scale; p.causal = s.causal; p.stream = stream;
      st = ptxfmha_fwd(&p);
    } else {
      ptxfmha_decode_params p{};
      p.q = dq.get(); p.k_cache = dk.get(); p.v_cache = dv.get(); p.o = dout.get();
      p.lse = static_cast<float*>(dl.get());
      p.q_batch_stride = qs[0]; p.q_seq_stride = qs[1]; p.q_head_stride = qs[2];
      p.o_batch_stride = qs[0]; p.o_seq_stride = qs[1]; p.o_head_stride = qs[2];
      p.k_batch_stride = ks[0]; p.k_seq_stride = ks[1]; p.k_head_stride = ks[2];
      p.v_batch_stride = ks[0]; p.v_seq_stride = ks[1]; p.v_head_stride = ks[2];
      p.batch = s.b; p.seqlen_q = s.sq; p.max_seqlen_k = s.sk; p.heads_q = s.hq;
      p.heads_kv = s.hkv; p.head_dim = int32_t(D); p.softmax_scale = scale; p.causal = s.causal;
      p.stream = stream;
      uint64_t wsb = 0;
      st = ptxfmha_decode_workspace_size(&p, &wsb);
      if (st == PTXFMHA_OK) {
        if (wsb) ws.alloc(wsb);
        p.workspace = wsb ? ws.get() : nullptr;
        p.workspace_bytes = wsb;
        st = ptxfmha_decode(&p);
      }
    }
    if (st != PTXFMHA_OK) {
      res.error = std::string(ptxfmha_status_string(st)) + ": " + ptxfmha_last_error();
      return res;
    }
    CUresult r = d.cuStreamSynchronize(stream);
    if (r != CUDA_SUCCESS) {
      res.error = ptxfmha::cu_error_message(r, "cuStreamSynchronize") + " (context lost)";
      return res;
    }
    pb::download(o.data(), dout.ptr(), qn * 2);
    pb::download(lse.data(), dl.ptr(), ln * 4);
  } catch (const std::exception& ex) {
    res.error = ex.what();
    return res;
  }
  std::vector<double> ref, ref_lse;
  pb::reference_dense({s.b, s.sq, s.sk, s.hq, s.hkv, D, s.causal, double(scale)}, q.data(),
                      kk.data(), v.data(), &ref, &ref_lse);
  std::vector<double> got(o.size());
  for (size_t i = 0; i < o.size(); ++i) got[i] = pb::float_from_bf16(o[i]);
  res.agree = pb::compare_double(got.data(), ref.data(), got.size());
  pb::compare_lse(lse.data(), ref_lse.data(), lse.size(), &res.agree);
  res.ran = true;
  return res;
}

// The driver and a context for the subcommand `cmd`; false after printing why it is SKIPPED
// (the caller returns 77) when there is no driver or no device.
bool acquire_gpu_or_skip(const char* cmd, ptxfmha::DeviceInfo* dev) {
  std::string init_msg;
  ptxfmha_status st = ptxfmha::driver_init(&init_msg);
  if (st == PTXFMHA_OK) st = ptxfmha::acquire_context(dev);
  if (st == PTXFMHA_OK) return true;
  std::printf("SKIPPED: ptxfmha %s needs a GPU (%s: %s)\n", cmd, ptxfmha_status_string(st),
              !init_msg.empty() ? init_msg.c_str() : ptxfmha_last_error());
  return false;
}

int cmd_check(bool long_shapes) {
  ptxfmha::DeviceInfo dev;
  if (!acquire_gpu_or_skip("check", &dev)) return 77;
  if (!dev.arch) {
    std::printf("SKIPPED: no ptx-fmha kernels for compute capability %d.%d\n", dev.cc_major,
                dev.cc_minor);
    return 77;
  }
  CUstream stream = nullptr;
  if (ptxfmha::drv().cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) {
    std::printf("cuStreamCreate failed\n");
    return 1;
  }
  // Odd lengths (residue tiles), GQA, causal with seqlen_q < seqlen_k (bottom-right diagonal)
  // and seqlen_q > seqlen_k (rows that see no key: O = 0, LSE = -inf).
  std::vector<Shape> fwd = {
      {1, 1, 1, 2, 2, false},     {2, 17, 17, 4, 2, true},     {2, 128, 128, 4, 4, false},
      {2, 128, 128, 4, 4, true},  {1, 129, 129, 2, 1, true},   {3, 127, 300, 4, 2, true},
      {1, 300, 127, 2, 2, true},  {1, 1000, 1000, 2, 1, false}, {1, 1000, 1000, 2, 1, true},
  };
  std::vector<Shape> dec = {
      {2, 1, 1000, 32, 8, false}, {1, 1, 4097, 8, 8, false}, {3, 4, 300, 32, 8, true},
      {4, 1, 17, 16, 2, false},
  };
  if (long_shapes) {
    fwd.push_back({1, 4097, 4097, 2, 2, false});
    fwd.push_back({1, 4097, 4097, 2, 2, true});
    dec.push_back({2, 1, 32768, 32, 8, false});
  }
  int pass = 0, fail = 0, skipped = 0;
  std::printf("%-30s %-28s %10s %9s %9s %9s  %s\n", "kernel", "shape b,sq,sk,hq,hkv,causal",
              "rel_l2", "cosine", "max_abs", "lse_abs", "result");
  for (const KernelInfo* k : ptxfmha::all_kernels()) {
    if (std::strcmp(k->arch, dev.arch) != 0) continue;
    // the combine kernel runs inside ptxfmha_decode; the backward rows have their own suite
    // (tests/test_gpu_bwd*.cpp), not this forward/decode check
    if (k->kind != KernelKind::Fwd && k->kind != KernelKind::Decode) continue;
    const bool decode = k->kind == KernelKind::Decode;
    if (decode && (ptxfmha_decode == nullptr || ptxfmha_decode_workspace_size == nullptr)) {
      std::printf("%-30s %-28s %50s  SKIPPED: this libptxfmha has no ptxfmha_decode yet\n",
                  k->name, "-", "");
      ++skipped;
      continue;
    }
    for (const Shape& s : decode ? dec : fwd) {
      char shape[64];
      std::snprintf(shape, sizeof shape, "%d,%d,%d,%d,%d,%d", s.b, s.sq, s.sk, s.hq, s.hkv,
                    int(s.causal));
      CheckResult r = run_check(*k, s, stream);
      if (!r.ran) {
        std::printf("%-30s %-28s %50s  FAIL: %s\n", k->name, shape, "", r.error.c_str());
        ++fail;
        if (r.error.find("context lost") != std::string::npos) {
          std::printf("stopping: the CUDA context is unusable\n");
          std::printf("%d passed, %d failed, %d skipped\n", pass, fail, skipped);
          return 1;
        }
        continue;
      }
      const pb::Agreement& a = r.agree;
      std::printf("%-30s %-28s %10.2e %9.6f %9.2e %9.2e  %s\n", k->name, shape, a.rel_l2,
                  a.cosine, a.max_abs, a.lse_max_abs,
                  a.ok() ? "PASS" : ("FAIL: " + a.failure()).c_str());
      (a.ok() ? pass : fail)++;
    }
  }
  std::printf("%d passed, %d failed, %d skipped\n", pass, fail, skipped);
  ptxfmha::drv().cuStreamDestroy(stream);
  return fail ? 1 : 0;
}

// ---- bench -------------------------------------------------------------------------------------
int run_process(const std::vector<std::string>& args, const char* extra_env = nullptr) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return 127;
  }
  if (pid == 0) {
    if (extra_env) putenv(const_cast<char*>(extra_env));
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "ptxfmha: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int cmd_bench(const std::string& out_dir, bool quick, const std::vector<std::string>& extra) {
  // A GPU is there when the driver loads and lists a device; no context is created here (the
  // bench process makes its own).
  std::string msg;
  ptxfmha_status st = ptxfmha::driver_init(&msg);
  int count = 0;
  if (st == PTXFMHA_OK) ptxfmha::drv().cuDeviceGetCount(&count);
  if (st != PTXFMHA_OK || count == 0) {
    std::printf("ptxfmha bench: no GPU here (%s). Running the benchmark needs a GPU; nothing "
                "was measured.\n", st != PTXFMHA_OK ? msg.c_str() : "no CUDA device");
    return 0;
  }
  const std::string bench = self_dir() + "/ptxfmha_bench";
  if (!file_exists(bench)) {
    std::printf("ptxfmha bench: %s was not built (Google Benchmark missing? run 'make deps', then "
                "'make')\n", bench.c_str());
    return 1;
  }
  mkdir(out_dir.c_str(), 0755);
  const std::string json = out_dir + "/bench.json", table = out_dir + "/table.txt";
  std::vector<std::string> args = {bench, "--benchmark_out=" + json, "--benchmark_out_format=json",
                                   "--ptxfmha_table=" + table};
  if (quick) args.push_back("--ptxfmha_quick");
  args.insert(args.end(), extra.begin(), extra.end());
  std::printf("ptxfmha bench: running %s (progress on stderr)\n", bench.c_str());
  int rc = run_process(args);
  if (!file_exists(json)) {
    std::printf("ptxfmha bench: the bench wrote no JSON (exit %d)\n", rc);
    return rc ? rc : 1;
  }
  // Plot + Markdown table.
  std::string py;
  if (const char* e = std::getenv("PTXFMHA_PYTHON")) py = e;
  else if (file_exists("/opt/torch/.venv/bin/python3")) py = "/opt/torch/.venv/bin/python3";
  else py = "python3";
  const std::string src = PTXFMHA_SOURCE_DIR;
  static std::string pythonpath;  // putenv keeps the pointer
  const char* old = std::getenv("PYTHONPATH");
  pythonpath = "PYTHONPATH=" + src + "/.deps/python" + (old ? std::string(":") + old : "");
  int prc = run_process({py, src + "/tools/plot_bench.py", json, "--png", out_dir + "/bench.png",
                         "--md", out_dir + "/bench.md"},
                        pythonpath.c_str());
  if (prc != 0) std::printf("ptxfmha bench: plotting failed (exit %d); the JSON is in %s\n", prc, json.c_str());
  std::printf("ptxfmha bench: results in %s/ (bench.json, table.txt, bench.md, bench.png)\n",
              out_dir.c_str());
  return rc;
}

// `ptxfmha decode-plans`: one line per decode cell of the grid (decode_replay.h).
// e4m3: the cells with an e4m3 cache, named as the bench names them (the cell's name + "/v=e4m3").
int cmd_decode_plans(const std::string& grid, int64_t sms, int64_t smem_per_sm, const std::string& filter,
                     bool e4m3) {
  using namespace ptxfmha_bench;
  std::vector<Case> cells;
  std::string why;
  if (!decode_grid(grid, &cells, &why)) {
    std::fprintf(stderr, "ptxfmha decode-plans: %s\n", why.c_str());
    return 2;
  }
  name_matches("", filter, &why);  // the bench's --benchmark_filter rule; a malformed one says why
  if (!why.empty()) {
    std::fprintf(stderr, "ptxfmha decode-plans: --filter: %s\n", why.c_str());
    return 2;
  }
  std::printf("# cell row ctas_per_sm splits split_ctas (sm90a, %lld SMs, %lld KiB per SM, estimated occupancy)\n",
              static_cast<long long>(sms), static_cast<long long>(smem_per_sm / 1024));
  for (Case c : cells) {
    if (e4m3) {
      c.kv_elem_bytes = 1;
      c.name += "/v=e4m3";
    }
    if (!name_matches(c.name, filter)) continue;
    ReplayedDecodePlan r;
    if (!replay_decode_plan(c, sms, smem_per_sm, &r, &why)) {
      std::fprintf(stderr, "ptxfmha decode-plans: %s\n", why.c_str());
      return 1;
    }
    std::printf("%s %s %d %d %lld\n", c.name.c_str(), r.row.c_str(), r.per_sm, r.splits,
                static_cast<long long>(r.ctas));
  }
  return 0;
}

// `ptxfmha placement`: bench_placement_read at each grid size (placement_probe.h).
int cmd_placement(const ptxfmha_bench::PlacementOptions& opt, bool raw) {
  ptxfmha::DeviceInfo dev;
  if (!acquire_gpu_or_skip("placement", &dev)) return 77;
  std::vector<ptxfmha_bench::PlacementRun> runs;
  const std::string why = ptxfmha_bench::run_placement_probe(opt, &runs);
  if (!why.empty()) {
    std::printf("ptxfmha %s\n", why.c_str());  // why begins "placement: "
    return 1;
  }
  std::printf("# %zu MiB per CTA, %d threads, %d KiB dynamic shared memory, median of %d launches; TPC = SMs "
              "2k and 2k+1 (assumed)\n",
              opt.cta_bytes >> 20, opt.threads, opt.smem_bytes >> 10, opt.reps);
  for (const ptxfmha_bench::PlacementRun& r : runs) {
    const ptxfmha_bench::PlacementSummary& s = r.summary;
    std::printf("ctas %d: %.3f ms, %.1f GB/s; SMs %d (at most %d CTAs on one), TPCs %d (%d with both SMs busy); "
                "CTAs sharing a TPC %d, median %.1f us; alone %d, median %.1f us; span %.1f us\n",
                r.ctas, r.kernel_ms, r.gb_per_s, s.sms_used, s.max_ctas_per_sm, s.tpcs_used, s.tpcs_shared,
                s.shared_ctas, s.shared_us, s.alone_ctas, s.alone_us, s.span_us);
    if (raw)
      for (std::size_t c = 0; c < r.records.size(); ++c)
        std::printf("raw %d %zu %llu %llu %llu\n", r.ctas, c, static_cast<unsigned long long>(r.records[c].smid),
                    static_cast<unsigned long long>(r.records[c].start_ns),
                    static_cast<unsigned long long>(r.records[c].end_ns));
  }
  return 0;
}

// `ptxfmha decode-trace`: the traced split kernel's records (cta_trace.h). Per split index y
// (CTAs of one y read the same key range of their units) the median and longest CTA.
int cmd_decode_trace(const ptxfmha_bench::DecodeTraceOptions& opt, bool raw) {
  ptxfmha::DeviceInfo dev;
  if (!acquire_gpu_or_skip("decode-trace", &dev)) return 77;
  ptxfmha_bench::DecodeTraceRun r;
  const std::string why = ptxfmha_bench::run_decode_trace(opt, &r);
  if (!why.empty()) {
    std::printf("ptxfmha %s\n", why.c_str());  // why begins "decode-trace: "
    return 1;
  }
  const std::size_t n = r.records.size();
  std::vector<double> us(n);
  for (std::size_t i = 0; i < n; ++i) us[i] = double(r.records[i].end_ns - r.records[i].start_ns) * 1e-3;
  const double longest = *std::max_element(us.begin(), us.end());
  const ptxfmha_bench::PlacementSummary& s = r.summary;
  std::printf("# %s, %d splits: %s, grid %u x %u x %u (%zu CTAs), median of %d launches\n", opt.cell.c_str(),
              opt.splits, r.kernel.c_str(), r.grid[0], r.grid[1], r.grid[2], n, opt.reps);
  std::printf("launch %.1f us; CTAs: median %.1f us, longest %.1f us (%.3fx), span %.1f us; SMs %d (at most %d CTAs "
              "on one)\n",
              r.launch_ms * 1e3, ptxfmha_bench::median(us), longest, longest / ptxfmha_bench::median(us), s.span_us,
              s.sms_used, s.max_ctas_per_sm);
  std::printf("| split | CTAs | median us | longest us |\n|---:|---:|---:|---:|\n");
  for (unsigned y = 0; y < r.grid[1]; ++y) {
    std::vector<double> of_y;
    for (std::size_t i = 0; i < n; ++i)
      if ((i / r.grid[0]) % r.grid[1] == y) of_y.push_back(us[i]);
    std::printf("| %u | %zu | %.1f | %.1f |\n", y, of_y.size(), ptxfmha_bench::median(of_y),
                *std::max_element(of_y.begin(), of_y.end()));
  }
  if (raw)
    for (std::size_t i = 0; i < n; ++i)
      std::printf("raw %zu %zu %llu %llu %llu\n", n, i, static_cast<unsigned long long>(r.records[i].smid),
                  static_cast<unsigned long long>(r.records[i].start_ns),
                  static_cast<unsigned long long>(r.records[i].end_ns));
  return 0;
}

void usage(FILE* f) {
  std::fprintf(f,
               "usage: ptxfmha info\n"
               "       ptxfmha check [--long]\n"
               "       ptxfmha bench [--out DIR] [--quick] [-- BENCH_ARGS...]\n"
               "       ptxfmha decode-plans [--grid NAME] [--cache bf16|e4m3] [--sms N] [--smem-kib K] [--filter REGEX]\n"
               "       ptxfmha placement [--sizes N,N,...] [--cta-mib M] [--smem-kib K] [--threads T] [--reps R] [--raw]\n"
               "       ptxfmha decode-trace --cell NAME --splits N [--reps R] [--raw]\n"
               "       ptxfmha version\n"
               "  info   device, architecture, cuDNN, kernels: cubins, ptxas registers/spills/smem,\n"
               "         driver attributes (on a device of the kernel's architecture)\n"
               "  check  every kernel of this device's architecture against the float64 reference\n"
               "         (exit 0 all pass, 1 a failure, 77 skipped: no GPU)\n"
               "  bench  ptx-fmha vs cuDNN (ptxfmha_bench), then JSON, table, PNG, Markdown in DIR\n"
               "         (default ./ptxfmha-results); BENCH_ARGS go to ptxfmha_bench, e.g.\n"
               "         --benchmark_filter=fwd/d128 --ptxfmha_suite=prefill\n"
               "  decode-plans  the library's split plan of every decode cell of a bench grid\n"
               "         (default full), offline: no GPU; default 132 SMs, 228 KiB per SM (H200);\n"
               "         --cache e4m3: with an e4m3 cache (the bench's /v=e4m3 entries)\n"
               "  placement  where a grid's CTAs run and how fast each reads its own range (default\n"
               "         sizes 64,72,...,128,132, 16 MiB per CTA, 200 KiB shared memory: one CTA per SM;\n"
               "         --threads: threads per CTA, 32..1024, default 256: more loads in flight per CTA;\n"
               "         exit 2 a bad option, 77 skipped: no GPU)\n"
               "  decode-trace  where and when each CTA of a decode split kernel runs: one cell of the\n"
               "         full grid (bf16), N >= 2 splits forced; run with PTXFMHA_CUBIN_DIR at the traced\n"
               "         cubins (make cubin-trace: build/cubin-trace); exit 2 a bad option, 77 skipped\n");
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered even into a pipe (tee, make), so progress shows and nothing is lost on a crash.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "info" && argc == 2) return cmd_info();
  if (cmd == "version" && argc == 2) {
    std::printf("%s\n", ptxfmha_version());
    return 0;
  }
  if (cmd == "check") {
    bool long_shapes = false;
    for (int i = 2; i < argc; ++i) {
      if (std::strcmp(argv[i], "--long") == 0) long_shapes = true;
      else {
        std::fprintf(stderr, "ptxfmha check: unknown argument '%s'\n", argv[i]);
        return 2;
      }
    }
    return cmd_check(long_shapes);
  }
  if (cmd == "bench") {
    std::string out = "ptxfmha-results";
    bool quick = false;
    std::vector<std::string> extra;
    for (int i = 2; i < argc; ++i) {
      if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
      else if (std::strcmp(argv[i], "--quick") == 0) quick = true;
      else if (std::strcmp(argv[i], "--") == 0) {
        for (++i; i < argc; ++i) extra.push_back(argv[i]);
      } else {
        std::fprintf(stderr, "ptxfmha bench: unknown argument '%s'\n", argv[i]);
        return 2;
      }
    }
    return cmd_bench(out, quick, extra);
  }
  if (cmd == "decode-plans") {
    std::string grid = "full", filter, cache = "bf16";
    long long sms = 132, smem_kib = ptxfmha_bench::kReplaySmemPerSmBytes / 1024;
    for (int i = 2; i < argc; ++i) {
      const bool has_value = i + 1 < argc;
      if (std::strcmp(argv[i], "--grid") == 0 && has_value) grid = argv[++i];
      else if (std::strcmp(argv[i], "--filter") == 0 && has_value) filter = argv[++i];
      else if (std::strcmp(argv[i], "--cache") == 0 && has_value) cache = argv[++i];
      else if (std::strcmp(argv[i], "--sms") == 0 && has_value) sms = std::atoll(argv[++i]);
      else if (std::strcmp(argv[i], "--smem-kib") == 0 && has_value) smem_kib = std::atoll(argv[++i]);
      else {
        std::fprintf(stderr, "ptxfmha decode-plans: unknown argument '%s'\n", argv[i]);
        return 2;
      }
    }
    if (sms < 1 || smem_kib < 1) {
      std::fprintf(stderr, "ptxfmha decode-plans: --sms and --smem-kib must be positive\n");
      return 2;
    }
    if (cache != "bf16" && cache != "e4m3") {
      std::fprintf(stderr, "ptxfmha decode-plans: --cache must be bf16 or e4m3\n");
      return 2;
    }
    return cmd_decode_plans(grid, sms, smem_kib * 1024, filter, cache == "e4m3");
  }
  if (cmd == "placement") {
    ptxfmha_bench::PlacementOptions opt;
    opt.sizes = {64, 72, 80, 88, 96, 104, 112, 120, 128, 132};
    long long cta_mib = 16, smem_kib = 200, reps = 5;
    bool raw = false;
    for (int i = 2; i < argc; ++i) {
      const bool has_value = i + 1 < argc;
      if (std::strcmp(argv[i], "--sizes") == 0 && has_value) {
        opt.sizes.clear();
        std::stringstream list(argv[++i]);
        std::string item;
        while (std::getline(list, item, ',')) opt.sizes.push_back(std::atoi(item.c_str()));
      } else if (std::strcmp(argv[i], "--cta-mib") == 0 && has_value) cta_mib = std::atoll(argv[++i]);
      else if (std::strcmp(argv[i], "--smem-kib") == 0 && has_value) smem_kib = std::atoll(argv[++i]);
      else if (std::strcmp(argv[i], "--reps") == 0 && has_value) reps = std::atoll(argv[++i]);
      else if (std::strcmp(argv[i], "--threads") == 0 && has_value) opt.threads = std::atoi(argv[++i]);
      else if (std::strcmp(argv[i], "--raw") == 0) raw = true;
      else {
        std::fprintf(stderr, "ptxfmha placement: unknown argument '%s'\n", argv[i]);
        return 2;
      }
    }
    if (cta_mib < 1 || cta_mib > 4096 || smem_kib < 0 || smem_kib > 1024 || reps < 1 || reps > 1000) {
      std::fprintf(stderr, "ptxfmha placement: --cta-mib must be 1..4096, --smem-kib 0..1024, --reps 1..1000\n");
      return 2;
    }
    opt.cta_bytes = static_cast<std::size_t>(cta_mib) << 20;
    opt.smem_bytes = static_cast<int>(smem_kib * 1024);
    opt.reps = static_cast<int>(reps);
    const std::string bad = ptxfmha_bench::placement_options_error(opt);
    if (!bad.empty()) {
      std::fprintf(stderr, "ptxfmha %s\n", bad.c_str());
      return 2;
    }
    return cmd_placement(opt, raw);
  }
  if (cmd == "decode-trace") {
    ptxfmha_bench::DecodeTraceOptions opt;
    bool raw = false;
    for (int i = 2; i < argc; ++i) {
      const bool has_value = i + 1 < argc;
      if (std::strcmp(argv[i], "--cell") == 0 && has_value) opt.cell = argv[++i];
      else if (std::strcmp(argv[i], "--splits") == 0 && has_value) opt.splits = std::atoi(argv[++i]);
      else if (std::strcmp(argv[i], "--reps") == 0 && has_value) opt.reps = std::atoi(argv[++i]);
      else if (std::strcmp(argv[i], "--raw") == 0) raw = true;
      else {
        std::fprintf(stderr, "ptxfmha decode-trace: unknown argument '%s'\n", argv[i]);
        return 2;
      }
    }
    ptxfmha_bench::Case c;
    const std::string bad = ptxfmha_bench::decode_trace_case(opt, &c);
    if (!bad.empty()) {
      std::fprintf(stderr, "ptxfmha %s\n", bad.c_str());
      return 2;
    }
    return cmd_decode_trace(opt, raw);
  }
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  usage(stderr);
  return 2;
}
