#include "bench_options.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "bench_util.h"
#include "bwd.h"

namespace ptxfmha_bench {

Options g_opt;

namespace {
// "a,b,c" -> {"a", "b", "c"} (empty items kept: their parsers name them).
std::vector<std::string> comma_items(const std::string& list) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t end = std::min(list.find(',', start), list.size());
    items.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "ptxfmha_bench: %s (--ptxfmha_help lists the flags)\n", msg.c_str());
  std::exit(2);
}

std::vector<int> parse_int_list(const std::string& s, const char* flag) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v <= 0 || v > (1 << 24))
      usage_error(std::string(flag) + ": '" + item + "' is not a positive integer");
    out.push_back(static_cast<int>(v));
  }
  if (out.empty()) usage_error(std::string(flag) + " needs at least one value");
  return out;
}

bool parse_bool(const char* v, const char* flag) {
  if (!std::strcmp(v, "1") || !std::strcmp(v, "true")) return true;
  if (!std::strcmp(v, "0") || !std::strcmp(v, "false")) return false;
  usage_error(std::string(flag) + " must be 0 or 1");
}

double parse_positive(const char* v, const char* flag) {
  char* end = nullptr;
  const double x = std::strtod(v, &end);
  if (*v == '\0' || *end != '\0' || !(x > 0)) usage_error(std::string(flag) + " must be > 0");
  return x;
}

bool flag(const char* a, const char* name, const char** value) {
  const std::size_t n = std::strlen(name);
  if (std::strncmp(a, name, n) != 0 || a[n] != '=') return false;
  *value = a + n + 1;
  return true;
}
}  // namespace

void print_flags(FILE* f) {
  std::fprintf(f,
      "ptxfmha_bench flags (after Google Benchmark's):\n"
      "  --ptxfmha_suite=all|prefill|decode|bwd|attn (bwd: forward, backward, deterministic\n"
      "                             backward; attn: the serving-feature cells and the prefill grid\n"
      "                             twice, plain rows and EXT rows with features off)\n"
      "  --ptxfmha_quick (prefill seqlens 1k/4k, decode grid quick, at most 4 cuDNN plans)\n"
      "  --ptxfmha_list (cells and run-time estimate, nothing run)\n"
      "  --ptxfmha_head_dims=64,128,256         --ptxfmha_seqlens=512,...,16384 (prefill)\n"
      "  --ptxfmha_decode_grid=%s (default headline)\n"
      "  --ptxfmha_timing=M[,M...]  M = b2b, launch or graph (default b2b; the first is the headline;\n"
      "                         both = b2b,launch)\n"
      "  --ptxfmha_cudnn=0|1 (default 1; 0: no cuDNN side, ours and the decode ceiling only)\n"
      "  --ptxfmha_cudnn_autotune=0|1 (default 1)  --ptxfmha_cudnn_max_plans=N (12)\n"
      "  --ptxfmha_tune_samples=N (timed batches per cuDNN plan, 6)\n"
      "  --ptxfmha_ceiling=0|1 (decode read ceiling, default 1)\n"
      "  --ptxfmha_read_probes=P,...  decode: time read probes beside the sides (bench/read_probe.h):\n"
      "                         ld, ca32, ca64, ca128, each optionally + x1 (one split per head)\n"
      "  --ptxfmha_samples=N (20)  --ptxfmha_batch_ms=T (5)  --ptxfmha_ref_rows=N (8)\n"
      "  --ptxfmha_mem_margin_gib=G (device memory kept free, 4)\n"
      "  --ptxfmha_table=FILE   --ptxfmha_fwd_kernel=NAME (a kernel-table forward variant)\n"
      "  --ptxfmha_bwd_kernel=NAME (a kernel-table backward main-kernel variant)\n"
      "  --ptxfmha_decode_variants=ITEM,...  each decode cell once per item: default, or e4m3 / k=STEM /\n"
      "                         wN / sN / pN / qN / cl / nocl / tma joined by '+' (e4m3 cache, kernel\n"
      "                         fmha_decode_STEM_<arch>, at least N waves, exactly N splits, pages of N\n"
      "                         keys, N query tokens, the cluster merge forced / off, TMA not cp.async)\n"
      "  --benchmark_filter=REGEX also selects the cells before any memory is sized\n",
      decode_grid_names());
}

void parse_options(int argc, char** argv, const std::string& gbench_filter) {
  Options& o = g_opt;
  o.filter = gbench_filter;
  bool max_plans_given = false;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = nullptr;
    if (flag(a, "--ptxfmha_suite", &v)) {
      o.suite = v;
      if (o.suite != "all" && o.suite != "prefill" && o.suite != "decode" && o.suite != "bwd" &&
          o.suite != "attn")
        usage_error("--ptxfmha_suite must be all, prefill, decode, bwd or attn");
    } else if (!std::strcmp(a, "--ptxfmha_quick")) {
      o.quick = true;
    } else if (!std::strcmp(a, "--ptxfmha_list")) {
      o.list = true;
    } else if (!std::strcmp(a, "--ptxfmha_help")) {
      print_flags(stdout);
      std::exit(0);
    } else if (flag(a, "--ptxfmha_samples", &v)) {
      o.samples = parse_int_list(v, "--ptxfmha_samples").at(0);
    } else if (flag(a, "--ptxfmha_batch_ms", &v)) {
      o.batch_ms = parse_positive(v, "--ptxfmha_batch_ms");
    } else if (flag(a, "--ptxfmha_ref_rows", &v)) {
      o.ref_rows = parse_int_list(v, "--ptxfmha_ref_rows").at(0);
    } else if (flag(a, "--ptxfmha_head_dims", &v)) {
      o.head_dims = parse_int_list(v, "--ptxfmha_head_dims");
    } else if (flag(a, "--ptxfmha_seqlens", &v)) {
      o.seqlens = parse_int_list(v, "--ptxfmha_seqlens");
    } else if (flag(a, "--ptxfmha_decode_grid", &v)) {
      o.decode_grid = v;
      std::vector<Case> tmp;
      std::string why;
      if (!decode_grid(o.decode_grid, &tmp, &why)) usage_error("--ptxfmha_decode_grid: " + why);
    } else if (flag(a, "--ptxfmha_timing", &v)) {
      if (!parse_methods(v, &o.methods)) usage_error("--ptxfmha_timing must be a list of b2b, launch, graph (or both)");
    } else if (flag(a, "--ptxfmha_cudnn", &v)) {
      o.cudnn = parse_bool(v, "--ptxfmha_cudnn");
    } else if (flag(a, "--ptxfmha_cudnn_autotune", &v)) {
      o.autotune = parse_bool(v, "--ptxfmha_cudnn_autotune");
    } else if (flag(a, "--ptxfmha_cudnn_max_plans", &v)) {
      o.max_plans = parse_int_list(v, "--ptxfmha_cudnn_max_plans").at(0);
      max_plans_given = true;
    } else if (flag(a, "--ptxfmha_tune_samples", &v)) {
      o.tune_samples = parse_int_list(v, "--ptxfmha_tune_samples").at(0);
    } else if (flag(a, "--ptxfmha_ceiling", &v)) {
      o.ceiling = parse_bool(v, "--ptxfmha_ceiling");
    } else if (flag(a, "--ptxfmha_mem_margin_gib", &v)) {
      o.mem_margin_gib = parse_positive(v, "--ptxfmha_mem_margin_gib");
    } else if (flag(a, "--ptxfmha_table", &v)) {
      o.table_path = v;
    } else if (flag(a, "--ptxfmha_fwd_kernel", &v)) {
      o.fwd_kernel = v;
    } else if (flag(a, "--ptxfmha_bwd_kernel", &v)) {
      o.bwd_kernel = v;
    } else if (flag(a, "--ptxfmha_decode_variants", &v)) {
      o.decode_variants.clear();
      for (const std::string& item : comma_items(v)) {
        DecodeVariant dv;
        std::string why;
        if (!parse_decode_variant(item, &dv, &why)) usage_error("--ptxfmha_decode_variants: " + why);
        o.decode_variants.push_back(item);
      }
    } else if (flag(a, "--ptxfmha_read_probes", &v)) {
      o.read_probes.clear();
      for (const std::string& item : comma_items(v)) {
        ReadProbe p;
        std::string why;
        if (!parse_read_probe(item, &p, &why)) usage_error("--ptxfmha_read_probes: " + why);
        o.read_probes.push_back(p);
      }
    } else {
      usage_error(std::string("unknown argument '") + a + "'");
    }
  }
  if (o.quick) {  // a smoke run: a few cells, at most 4 cuDNN plans each unless asked
    o.seqlens = {1024, 4096};
    o.decode_grid = "quick";
    if (!max_plans_given) o.max_plans = 4;
  }
  if (!o.fwd_kernel.empty() && forward_row_named(o.fwd_kernel) == nullptr)
    usage_error("--ptxfmha_fwd_kernel: no forward kernel named '" + o.fwd_kernel + "'");
  if (!o.bwd_kernel.empty() && ptxfmha::find_bwd_main_row(o.bwd_kernel.c_str()) == nullptr)
    usage_error("--ptxfmha_bwd_kernel: no backward main kernel named '" + o.bwd_kernel + "'");
  if (const char* p = std::getenv("PTXFMHA_BENCH_PERTURB_SCALE")) {
    char* end = nullptr;
    o.perturb_scale = std::strtod(p, &end);
    if (*p == '\0' || *end != '\0' || !(o.perturb_scale > 0))
      usage_error(std::string("PTXFMHA_BENCH_PERTURB_SCALE='") + p + "' must be > 0");
  }
}

}  // namespace ptxfmha_bench
