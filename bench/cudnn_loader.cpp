// Finds and opens libcudnn at run time (see cudnn_sdpa.h for the search order).
// No cuDNN header is needed here: the bench and the CLI report cuDNN's presence and version
// even when they were built without cuDNN's headers.
#include <dlfcn.h>
#include <glob.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "cudnn_sdpa.h"

#ifndef PTXFMHA_CUDNN_LIBDIR
#define PTXFMHA_CUDNN_LIBDIR ""
#endif
#ifndef PTXFMHA_CUDA_DIR
#define PTXFMHA_CUDA_DIR "/usr/local/cuda"
#endif

namespace ptxfmha_bench {

namespace {

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> glob_paths(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g;
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.push_back(g.gl_pathv[i]);
  }
  globfree(&g);
  return out;
}

// Directories where the machines we know keep cuDNN and the CUDA runtime.
std::vector<std::string> known_lib_dirs(const char* nvidia_pkg) {
  std::vector<std::string> dirs;
  std::string built = PTXFMHA_CUDNN_LIBDIR;
  if (!built.empty()) dirs.push_back(built);
  for (auto& d : glob_paths(std::string("/opt/torch/.venv/lib/python3*/site-packages/nvidia/") +
                            nvidia_pkg + "/lib"))
    dirs.push_back(d);
  const std::string cuda = PTXFMHA_CUDA_DIR;
  dirs.push_back(cuda + "/lib64");
  dirs.push_back(cuda + "/lib");
  dirs.push_back("/usr/lib/x86_64-linux-gnu");
  return dirs;
}

void* try_open(const std::string& what, std::string* tried) {
  dlerror();
  void* h = dlopen(what.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    *tried += "  " + what + ": " + (e ? e : "dlopen failed") + "\n";
  }
  return h;
}

// cudnn-frontend dlopens libcudart.so.12/.so.13 by name. Point it at a CUDA 13 runtime we
// can see, so the bench needs no LD_LIBRARY_PATH; the user's own setting wins.
void point_frontend_at_cudart() {
  if (std::getenv("CUDNN_FRONTEND_CUDART_LIB_NAME")) return;
  dlerror();
  if (void* h = dlopen("libcudart.so.13", RTLD_NOW | RTLD_LOCAL)) {
    dlclose(h);
    return;  // found by name: nothing to do
  }
  std::vector<std::string> dirs = known_lib_dirs("cu13");
  for (auto& d : glob_paths("/opt/torch/.venv/lib/python3*/site-packages/nvidia/cuda_runtime/lib"))
    dirs.push_back(d);
  for (auto& d : dirs) {
    std::string p = d + "/libcudart.so.13";
    if (is_file(p)) {
      setenv("CUDNN_FRONTEND_CUDART_LIB_NAME", p.c_str(), 0);
      return;
    }
  }
}

CudnnLibrary load() {
  CudnnLibrary lib;
  std::string tried;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("PTXFMHA_CUDNN_LIB")) {
    std::string e = env;
    if (is_dir(e)) {
      candidates.push_back(e + "/libcudnn.so.9");
      candidates.push_back(e + "/libcudnn_graph.so.9");
    } else {
      candidates.push_back(e);
    }
  } else {
    // The directory that matches the headers bench/ was compiled with comes first, then the
    // loader's own search, then the places we know.
    std::string built = PTXFMHA_CUDNN_LIBDIR;
    if (!built.empty() && is_file(built + "/libcudnn.so.9")) candidates.push_back(built + "/libcudnn.so.9");
    candidates.push_back("libcudnn.so.9");
    candidates.push_back("libcudnn_graph.so.9");
    for (auto& d : known_lib_dirs("cudnn")) {
      if (is_file(d + "/libcudnn.so.9")) candidates.push_back(d + "/libcudnn.so.9");
      if (is_file(d + "/libcudnn_graph.so.9")) candidates.push_back(d + "/libcudnn_graph.so.9");
    }
  }
  for (const auto& c : candidates) {
    void* h = try_open(c, &tried);
    if (!h) continue;
    using GetVersion = size_t (*)(void);
    auto get_version = reinterpret_cast<GetVersion>(dlsym(h, "cudnnGetVersion"));
    if (!get_version) {
      tried += "  " + c + ": has no cudnnGetVersion\n";
      dlclose(h);
      continue;
    }
    lib.loaded = true;
    lib.handle = h;
    lib.version = get_version();
    char real[4096];
    if (dlinfo(h, RTLD_DI_ORIGIN, real) == 0) {
      std::string base = c.substr(c.find_last_of('/') + 1);
      lib.path = std::string(real) + "/" + base;
    } else {
      lib.path = c;
    }
    point_frontend_at_cudart();
    return lib;
  }
  lib.why = "libcudnn not found; tried:\n" + tried +
            "  (set PTXFMHA_CUDNN_LIB to the library file or its directory)";
  return lib;
}

}  // namespace

std::string CudnnLibrary::version_string() const {
  if (!loaded) return "absent";
  // cuDNN 9: version = major*10000 + minor*100 + patch
  char buf[64];
  std::snprintf(buf, sizeof buf, "%zu.%zu.%zu", version / 10000, (version / 100) % 100,
                version % 100);
  return buf;
}

const CudnnLibrary& cudnn_library() {
  static std::once_flag once;
  static CudnnLibrary lib;
  std::call_once(once, [] { lib = load(); });
  return lib;
}

void dense_strides(int64_t seqlen, int64_t heads, int64_t head_dim, int64_t out[3]) {
  out[0] = seqlen * heads * head_dim;
  out[1] = heads * head_dim;
  out[2] = head_dim;
}

}  // namespace ptxfmha_bench

namespace ptxfmha_bench {

bool SdpaProblem::softcap_expressible() const {
  return !causal && window_left < 0 && page_size == 0 && !ragged && !sink;
}

std::string SdpaProblem::key() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "b%lld sq%lld sk%lld hq%lld hkv%lld d%lld q[%lld,%lld,%lld] k[%lld,%lld,%lld] "
                "v[%lld,%lld,%lld] o[%lld,%lld,%lld] scale%.9g causal%d lse%d page%lld/%lld/%lld",
                (long long)batch, (long long)seqlen_q, (long long)seqlen_k, (long long)heads_q,
                (long long)heads_kv, (long long)head_dim, (long long)q_stride[0],
                (long long)q_stride[1], (long long)q_stride[2], (long long)k_stride[0],
                (long long)k_stride[1], (long long)k_stride[2], (long long)v_stride[0],
                (long long)v_stride[1], (long long)v_stride[2], (long long)o_stride[0],
                (long long)o_stride[1], (long long)o_stride[2], double(softmax_scale), int(causal),
                int(lse), (long long)page_size, (long long)num_pages, (long long)table_cols);
  std::string k = buf;
  if (backward) k += " backward det" + std::to_string(int(deterministic));
  if (ragged || window_left >= 0 || sink)  // the serving features (family_attn.cpp)
    k += " ragged" + std::to_string(int(ragged)) + " window" + std::to_string(window_left) + " sink" +
         std::to_string(int(sink));
  if (softcap > 0) k += " softcap" + std::to_string(softcap);
  return k;
}

}  // namespace ptxfmha_bench
