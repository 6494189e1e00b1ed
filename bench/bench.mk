# bench build fragment (included by the top-level Makefile)
#
#   $(BENCH_BIN)        ptxfmha_bench: ptx-fmha vs cuDNN SDPA (Google Benchmark), see bench/bench_fmha.cpp
#                       and bench/METHOD.md
#   $(BENCH_UTIL_A)     bench helpers + cuDNN loader + the pure parts (cases, grids, statistics,
#                       plan choice, estimate, the backward's sampled reference, the offline
#                       replay of the library's decode plan: decode_replay.h; the CTA placement
#                       probe: placement_probe.h; the decode split kernels' per-CTA clock:
#                       cta_trace.h) + the cuDNN
#                       SDPA graphs, also linked by tools/ (the CLI) and the tests
#                       (tests/test_cpu_bench_gate.cpp, tests/test_cpu_bench_*.cpp, the backward
#                       GPU tests print cuDNN's backward error through CudnnSdpa)
#   $(BENCH_CUBINS)     the decode read-ceiling and launch-floor kernels (bench/read_stream.ptx),
#                       assembled like ptx/ (C preprocessor, then ptxas) into $(BENCH_CUBIN_DIR)
#   $(TRACE_CUBIN_DIR)  `make cubin-trace`: the split kernels of $(TRACE_KERNELS) built with
#                       -DPTXFMHA_DECODE_CTA_TRACE=1 (a per-CTA clock,
#                       ptx/body/sm90_decode/cta_trace.ptxh) beside copies of every other sm90a
#                       cubin, so that PTXFMHA_CUBIN_DIR=$(TRACE_CUBIN_DIR) runs the library with
#                       them (`ptxfmha decode-trace`); never the library's own cubins
#   make bench          build the bench and its cubins
#
# Dependencies, found here or overridden on the command line:
#   GBENCH_PREFIX      Google Benchmark (include/benchmark/benchmark.h + libbenchmark): system
#                      first, else .deps/benchmark. Without it the bench is skipped with a message.
#   CUDNN_INCLUDE      cuDNN headers (cudnn.h): $(CUDA)/include, PyTorch's nvidia/cudnn/include
#                      (GPU machine), /usr/include.
#   CUDNN_FE_INCLUDE   cudnn-frontend headers: .deps/cudnn-frontend/include (`make deps`).
# Without cuDNN or cudnn-frontend headers the bench still builds and times ptx-fmha alone; it
# says cuDNN support was not built. libcudnn itself is never linked: bench/cudnn_loader.cpp
# opens it at run time (search order in bench/cudnn_sdpa.h).

BENCH_OBJDIR   := $(BUILD)/obj/bench
BENCH_BIN      := $(BUILD)/bin/ptxfmha_bench
BENCH_UTIL_A   := $(BUILD)/lib/libptxfmha_benchutil.a

# ---- Google Benchmark -------------------------------------------------------------------------
gbench_has = $(and $(wildcard $(1)/include/benchmark/benchmark.h),$(wildcard $(1)/lib/libbenchmark.* $(1)/lib/x86_64-linux-gnu/libbenchmark.* $(1)/lib64/libbenchmark.*))
GBENCH_PREFIX ?= $(firstword $(foreach p,/usr /usr/local .deps/benchmark,$(if $(call gbench_has,$(p)),$(p))))
ifneq ($(GBENCH_PREFIX),)
  ifeq ($(filter /usr,$(GBENCH_PREFIX)),)
    GBENCH_CFLAGS := -I$(GBENCH_PREFIX)/include
    GBENCH_LIBDIR := $(dir $(firstword $(wildcard $(GBENCH_PREFIX)/lib/libbenchmark.* $(GBENCH_PREFIX)/lib64/libbenchmark.* $(GBENCH_PREFIX)/lib/x86_64-linux-gnu/libbenchmark.*)))
    GBENCH_LIBS   := -L$(GBENCH_LIBDIR) -Wl,-rpath,$(abspath $(GBENCH_LIBDIR)) -lbenchmark
  else
    GBENCH_LIBS   := -lbenchmark
  endif
endif

# ---- cuDNN + cudnn-frontend headers ----------------------------------------------------------
# Order: the toolkit's (9.19 here), then PyTorch's nvidia-cudnn-cu13 package (9.19 on the GPU
# machine, which also has an older 9.14 under /usr), then the system's.
CUDNN_INCLUDE ?= $(patsubst %/cudnn.h,%,$(firstword $(wildcard $(CUDA)/include/cudnn.h /opt/torch/.venv/lib/python3*/site-packages/nvidia/cudnn/include/cudnn.h /usr/include/cudnn.h /usr/include/x86_64-linux-gnu/cudnn.h)))
CUDNN_FE_INCLUDE ?= $(patsubst %/cudnn_frontend.h,%,$(firstword $(wildcard .deps/cudnn-frontend/include/cudnn_frontend.h)))
# The library directory that goes with those headers: the loader tries it first, so the
# library matches the headers the frontend was compiled against.
CUDNN_LIBDIR ?= $(firstword $(foreach d,$(CUDNN_INCLUDE)/../lib64 $(CUDNN_INCLUDE)/../lib /usr/lib/x86_64-linux-gnu,$(if $(wildcard $(d)/libcudnn.so.9 $(d)/libcudnn_graph.so.9),$(abspath $(d)))))

BENCH_CUBIN_DIR := $(BUILD)/cubin-bench
BENCH_CUBINS    := $(foreach a,sm90a sm100a,$(BENCH_CUBIN_DIR)/read_stream_$(a).cubin)
BENCH_CPPFLAGS := -DPTXFMHA_CUDA_DIR='"$(CUDA)"' -DPTXFMHA_CUDNN_LIBDIR='"$(CUDNN_LIBDIR)"' \
                  -DPTXFMHA_BENCH_CUBIN_DIR='"$(abspath $(BENCH_CUBIN_DIR))"'
ifneq ($(and $(CUDNN_INCLUDE),$(CUDNN_FE_INCLUDE)),)
  CUDNN_SDPA_FLAGS := -DNV_CUDNN_FRONTEND_USE_DYNAMIC_LOADING -isystem $(CUDNN_FE_INCLUDE) -isystem $(CUDNN_INCLUDE)
else
  CUDNN_SDPA_FLAGS := -DPTXFMHA_BENCH_NO_CUDNN
endif

BENCH_UTIL_OBJS := $(addprefix $(BENCH_OBJDIR)/,bench_util.o cudnn_loader.o gpu_monitor.o bench_case.o decode_replay.o placement_probe.o read_probe.o cta_trace.o \
                     bench_stats.o bench_bwd_ref.o cudnn_sdpa.o)
# The bench binary: main and registration, options, device state, the case families, the
# gate, cuDNN's side (plans, tuning), timing, the read ceiling, the report.
BENCH_BIN_OBJS  := $(addprefix $(BENCH_OBJDIR)/,bench_fmha.o bench_options.o bench_device.o \
                     family_fwd.o family_decode.o family_bwd.o family_attn.o bench_gate.o \
                     bench_cudnn_side.o bench_timing.o bench_ceiling.o bench_report.o)

.PHONY: bench bench-info
bench: $(BENCH_UTIL_A) $(if $(GBENCH_PREFIX),$(BENCH_BIN) $(BENCH_CUBINS),bench-no-gbench)
all: bench

.PHONY: bench-no-gbench
bench-no-gbench:
	@echo "bench: Google Benchmark (benchmark/benchmark.h + libbenchmark) not found: ptxfmha_bench is not built (run 'make deps')"

bench-info:
	@echo "GBENCH_PREFIX    = $(or $(GBENCH_PREFIX),(none))"
	@echo "CUDNN_INCLUDE    = $(or $(CUDNN_INCLUDE),(none))"
	@echo "CUDNN_FE_INCLUDE = $(or $(CUDNN_FE_INCLUDE),(none))"
	@echo "CUDNN_LIBDIR     = $(or $(CUDNN_LIBDIR),(none))"
	@echo "cuDNN SDPA       = $(if $(filter -DPTXFMHA_BENCH_NO_CUDNN,$(CUDNN_SDPA_FLAGS)),not built,built with cudnn-frontend (dynamic loading))"

$(BENCH_OBJDIR)/%.o: bench/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(BENCH_CPPFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

# The frontend TU: slow to compile (header-only, ~1 min), so it is alone and rebuilt only
# when its own inputs change. Its flags are recorded so that finding cuDNN later rebuilds it.
$(BENCH_OBJDIR)/cudnn_sdpa.flags: FORCE
	@mkdir -p $(dir $@)
	@echo '$(CUDNN_SDPA_FLAGS)' | cmp -s - $@ || echo '$(CUDNN_SDPA_FLAGS)' > $@
$(BENCH_OBJDIR)/cudnn_sdpa.o: bench/cudnn_sdpa.cpp $(BENCH_OBJDIR)/cudnn_sdpa.flags
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(BENCH_CPPFLAGS) $(CXXFLAGS) $(CUDNN_SDPA_FLAGS) -MMD -MP -c $< -o $@

$(BENCH_OBJDIR)/bench_fmha.o $(BENCH_OBJDIR)/bench_report.o: CXXFLAGS += $(GBENCH_CFLAGS)

# Preprocessed like ptx/ (the C preprocessor only), then ptxas; the -v report beside the cubin.
$(BENCH_CUBIN_DIR)/read_stream_%.cubin: bench/read_stream.ptx
	@mkdir -p $(dir $@)
	$(PTX_CPP) $< -o $(@:.cubin=.ptx)
	@$(PTXAS) -arch=$(ptxas_target_$*) -v $(@:.cubin=.ptx) -o $@ > $(@:.cubin=.ptxas.txt) 2>&1 \
	  || { cat $(@:.cubin=.ptxas.txt); rm -f $@; exit 1; }

# The traced split kernels (cta_trace.ptxh): preprocessed with the flag, then ptxas as in the
# top-level Makefile; then every other sm90a cubin copied in (again when the original is newer).
TRACE_CUBIN_DIR := $(BUILD)/cubin-trace
TRACE_KERNELS   := d64 d64_s3 d128 d128_wg d256 d256_wg
TRACE_CUBINS    := $(foreach k,$(TRACE_KERNELS),$(TRACE_CUBIN_DIR)/sm90a/fmha_decode_$(k)_sm90a.cubin)
.PHONY: cubin-trace
all: cubin-trace
cubin-trace: $(TRACE_CUBINS) $(filter $(BUILD)/cubin/sm90a/%,$(CUBINS))
	@for f in $(BUILD)/cubin/sm90a/*.cubin; do \
	  case " $(notdir $(TRACE_CUBINS)) " in *" $$(basename $$f) "*) ;; *) cp -u $$f $(TRACE_CUBIN_DIR)/sm90a/ ;; esac; done
$(TRACE_CUBIN_DIR)/sm90a/%.cubin: ptx/sm90a/%.ptx $(PTX_LINES)
	@mkdir -p $(dir $@)
	$(PTX_CPP) -DPTXFMHA_DECODE_CTA_TRACE=1 -MMD -MP -MF $(@:.cubin=.ptx.d) -MT $@ $< -o $(@:.cubin=.ptx.cpp)
	@$(PYTHON) $(PTX_LINES) --loc $(@:.cubin=.ptx.cpp) $(@:.cubin=.ptx) && rm -f $(@:.cubin=.ptx.cpp)
	@$(PTXAS) -arch=sm_90a $(PTXAS_FLAGS) -v $(@:.cubin=.ptx) -o $@ > $(@:.cubin=.ptxas.txt) 2>&1 \
	  || { cat $(@:.cubin=.ptxas.txt); rm -f $@; exit 1; }
-include $(TRACE_CUBINS:.cubin=.ptx.d)

$(BENCH_UTIL_A): $(BENCH_UTIL_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

# libptxfmha.a is linked whole: the bench references ptxfmha_decode weakly (it may not exist
# yet), and a weak reference alone would not pull its object out of the archive.
$(BENCH_BIN): $(BENCH_BIN_OBJS) $(BENCH_UTIL_A) $(HOST_LIB_A)
	@mkdir -p $(dir $@)
	$(CXX) -o $@ $(filter %.o,$^) $(BENCH_UTIL_A) -Wl,--whole-archive $(HOST_LIB_A) -Wl,--no-whole-archive \
	  $(LDFLAGS) $(GBENCH_LIBS) $(LDLIBS)


.PHONY: FORCE
FORCE:

-include $(wildcard $(BENCH_OBJDIR)/*.d)
