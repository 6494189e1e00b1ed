# tools build fragment (included by the top-level Makefile)
#
#   $(PTXFMHA_CLI)   build/bin/ptxfmha: `info`, `check`, `bench` (tools/ptxfmha.cpp)
#   make run         the main job: builds everything, prints `ptxfmha info`, then runs the
#                    benchmark against cuDNN on the default shapes (`ptxfmha bench`): the
#                    comparison table on stdout; JSON, text table, Markdown table and PNG plot
#                    in $(RESULTS). Without a GPU it builds, prints `info` and says that running
#                    needs a GPU (exit 0).
#       RESULTS=dir       where results go (default $(BUILD)/results)
#       QUICK=1           a small subset of shapes
#       BENCH_ARGS='...'  extra ptxfmha_bench arguments, e.g. --benchmark_filter=fwd/d128
#   make plot        re-plot $(RESULTS)/bench.json (PLOT_PYTHON picks the interpreter)

TOOLS_OBJDIR := $(BUILD)/obj/tools
PTXFMHA_CLI  := $(BUILD)/bin/ptxfmha
RESULTS      ?= $(BUILD)/results
PLOT_PYTHON  ?= $(if $(wildcard /opt/torch/.venv/bin/python3),/opt/torch/.venv/bin/python3,$(PYTHON))

.PHONY: tools run plot
tools: $(PTXFMHA_CLI)
all: $(PTXFMHA_CLI)

$(TOOLS_OBJDIR)/ptxfmha.o: tools/ptxfmha.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) -DPTXFMHA_SOURCE_DIR='"$(abspath .)"' $(CXXFLAGS) -Ibench -MMD -MP -c $< -o $@

# Whole archive for the same reason as the bench: ptxfmha_decode is referenced weakly.
$(PTXFMHA_CLI): $(TOOLS_OBJDIR)/ptxfmha.o $(BENCH_UTIL_A) $(HOST_LIB_A)
	@mkdir -p $(dir $@)
	$(CXX) -o $@ $(TOOLS_OBJDIR)/ptxfmha.o $(BENCH_UTIL_A) -Wl,--whole-archive $(HOST_LIB_A) \
	  -Wl,--no-whole-archive $(LDFLAGS) $(LDLIBS)

run: cubins $(PTXFMHA_CLI) bench
	@$(PTXFMHA_CLI) info
	@echo
	@$(PTXFMHA_CLI) bench --out $(RESULTS) $(if $(QUICK),--quick) $(if $(BENCH_ARGS),-- $(BENCH_ARGS))

plot:
	PYTHONPATH=.deps/python$${PYTHONPATH:+:$$PYTHONPATH} $(PLOT_PYTHON) tools/plot_bench.py \
	  $(RESULTS)/bench.json --png $(RESULTS)/bench.png --md $(RESULTS)/bench.md

-include $(wildcard $(TOOLS_OBJDIR)/*.d)
