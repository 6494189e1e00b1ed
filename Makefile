# ptx-fmha build. No CMake: plain GNU make.
#
#   make            assemble every ptx/<arch>/*.ptx into build/cubin/<arch>/<name>.cubin
#                   (ptxas -v report beside it), build the host library, tests, bench and tools
#   make test       build and run every test (GPU tests are skipped without a matching device)
#   make run        the main job: the benchmark against cuDNN (needs a GPU; says so otherwise)
#   make sass       dump SASS of every cubin into build/sass/
#   make deps       install what the build needs and the machine lacks (doctest, cuobjdump)
#   make python     the Python package and its wheel, build/python/ptxfmha-*.whl (python/python.mk)
#
# BUILD=dir puts every output under another directory (default: build).

CUDA     ?= /usr/local/cuda
BUILD    ?= build
CXX      ?= g++
PYTHON   ?= python3
PTXAS    := $(CUDA)/bin/ptxas
# .ptx sources may use the C preprocessor (#define/#include) and nothing else. Linemarkers are
# kept (no -P): tools/ptx_lines.py turns them into .file/.loc directives while it puts each
# statement on its own line (ptx/STYLE.md, "Generated PTX").
PTX_CPP  := cpp -x assembler-with-cpp -undef -nostdinc -Iptx/include
PTX_LINES := tools/ptx_lines.py
# -lineinfo: the .loc positions go into the cubin (Nsight Compute and compute-sanitizer show
# source lines); the SASS is the same with and without it (tools/sass-diff.sh).
PTXAS_FLAGS ?= -lineinfo

CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++17 -Wall -Wextra -fPIC -Ihost/include -Ihost/src -I$(CUDA)/include
CPPFLAGS += -DPTXFMHA_DEFAULT_CUBIN_DIR='"$(abspath $(BUILD))/cubin"'
LDLIBS   += -ldl -lpthread

# Where cuobjdump comes from: the toolkit's, else the one `make deps` installs from PyPI.
CUOBJDUMP ?= $(firstword $(wildcard $(CUDA)/bin/cuobjdump) $(shell command -v cuobjdump 2>/dev/null) $(wildcard .deps/bin/cuobjdump))

PTX_ARCHS := sm90a sm100a
ptxas_target_sm90a  := sm_90a
ptxas_target_sm100a := sm_100a

PTX_SRCS := $(foreach a,$(PTX_ARCHS),$(wildcard ptx/$(a)/*.ptx))
PTX_PRE  := $(patsubst ptx/%.ptx,$(BUILD)/ptx/%.ptx,$(PTX_SRCS))
CUBINS   := $(patsubst ptx/%.ptx,$(BUILD)/cubin/%.cubin,$(PTX_SRCS))
SASS     := $(patsubst ptx/%.ptx,$(BUILD)/sass/%.sass,$(PTX_SRCS))

.PHONY: all cubins sass deps test run clean
# Keep the preprocessed PTX: tests read it.
.SECONDARY:
all: cubins

cubins: $(CUBINS)

# Preprocess (only the C preprocessor), keeping include dependencies; then one statement per
# line with source positions (the intermediate cpp output is removed).
$(BUILD)/ptx/%.ptx: ptx/%.ptx $(PTX_LINES)
	@mkdir -p $(dir $@)
	$(PTX_CPP) -MMD -MP -MF $@.d -MT $@ $< -o $@.cpp
	@$(PYTHON) $(PTX_LINES) --loc $@.cpp $@ && rm -f $@.cpp

# Assemble; the -v resource report (registers, shared memory, spills) lands beside the cubin.
$(BUILD)/cubin/%.cubin: $(BUILD)/ptx/%.ptx
	@mkdir -p $(dir $@)
	@$(PTXAS) -arch=$(ptxas_target_$(firstword $(subst /, ,$*))) $(PTXAS_FLAGS) -v $< -o $@ > $(@:.cubin=.ptxas.txt) 2>&1 \
	  || { cat $(@:.cubin=.ptxas.txt); rm -f $@; exit 1; }
	@echo "ptxas $* : $$(grep -h -o 'Used [0-9]* registers' $(@:.cubin=.ptxas.txt)), $$(grep -h -o '[0-9]* bytes spill stores' $(@:.cubin=.ptxas.txt))"

sass: $(SASS)
$(BUILD)/sass/%.sass: $(BUILD)/cubin/%.cubin
	@mkdir -p $(dir $@)
	@test -n "$(CUOBJDUMP)" || { echo "cuobjdump not found: run 'make deps'"; exit 1; }
	$(CUOBJDUMP) -sass $< > $@

deps:
	bash tools/install-deps.sh

clean:
	rm -rf $(BUILD)

-include $(PTX_PRE:=.d)

# Component fragments, each owned by its folder.
# (bench before tests: the test binary links the bench helpers, $(BENCH_UTIL_A))
include host/host.mk
include bench/bench.mk
include tests/tests.mk
include tools/tools.mk
include python/python.mk
