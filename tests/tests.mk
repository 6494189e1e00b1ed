# tests build fragment (included by the top-level Makefile)
#
#   make test                  install missing deps once, assemble the cubins (and the bench's
#                              read_stream cubins, which the placement probe's tests read, and
#                              the traced split kernels of `make cubin-trace`), build the host
#                              library and $(TEST_BIN) from every tests/*.cpp, run it from the
#                              repository root
#   make test TEST_ARGS='-tc="*table*"'   pass doctest options (filters, -s, --duration=true ...)
#   make tests                 build the test binary only
#
# GPU test cases are reported as skipped (not passed) when no device of their architecture is
# present; SASS contract tests likewise when there is no cuobjdump (tests/main.cpp says why).

TEST_SRCS  := $(sort $(wildcard tests/*.cpp))
TEST_OBJS  := $(patsubst tests/%.cpp,$(BUILD)/tests/obj/%.o,$(TEST_SRCS))
TEST_BIN   := $(BUILD)/tests/ptxfmha_tests
TEST_ARGS  ?=
# CUTLASS headers for the "sm100a cutlass cross-check" (tests/test_cpu_sm100a_cutlass.cpp): PyPI
# nvidia-cutlass 4.2.0.0, put into .deps/cutlass by tools/deps.d/40-cutlass.sh (`make deps`).
# Checked when that one object is compiled (after the deps step ran): present, it gets the include
# paths (CUTLASS, and the toolkit's CCCL libcu++ that CUTLASS includes) and PTXFMHA_HAVE_CUTLASS=1;
# absent, the test case reports itself skipped. Rebuilt when the install appears or changes.
CUTLASS_INCLUDE ?= .deps/cutlass/cutlass_library/source/include
CCCL_INCLUDE    ?= $(firstword $(wildcard $(CUDA)/include/cccl) $(CUDA)/include)
$(BUILD)/tests/obj/test_cpu_sm100a_cutlass.o: CPPFLAGS += $(if $(wildcard $(CUTLASS_INCLUDE)/cute/arch/mma_sm100_desc.hpp),-DPTXFMHA_HAVE_CUTLASS=1 -isystem $(CUTLASS_INCLUDE) -isystem $(CCCL_INCLUDE))
$(BUILD)/tests/obj/test_cpu_sm100a_cutlass.o: $(wildcard .deps/cutlass/VERSION)
# The sm90 decode cross-checks (tests/test_cpu_sm90_decode_cutlass.cpp, _cpasync.cpp): the same headers.
SM90_XCHECK_OBJS := $(BUILD)/tests/obj/test_cpu_sm90_decode_cutlass.o $(BUILD)/tests/obj/test_cpu_sm90_decode_cpasync.o
$(SM90_XCHECK_OBJS): CPPFLAGS += $(if $(wildcard $(CUTLASS_INCLUDE)/cute/arch/mma_sm90_desc.hpp),-DPTXFMHA_HAVE_CUTLASS=1 -isystem $(CUTLASS_INCLUDE) -isystem $(CCCL_INCLUDE))
$(SM90_XCHECK_OBJS): $(wildcard .deps/cutlass/VERSION)
# tools/install-deps.sh runs once per checkout (and again when a deps step changes).
DEPS_STAMP := .deps/install-deps.stamp

.PHONY: tests
tests: $(TEST_BIN)
all: $(TEST_BIN)

$(DEPS_STAMP): tools/install-deps.sh $(wildcard tools/deps.d/*.sh)
	bash tools/install-deps.sh
	@mkdir -p $(dir $@)
	@touch $@

# Every test object needs the deps (doctest) first: order-only, so a touched stamp does not
# rebuild the tests.
$(BUILD)/tests/obj/%.o: tests/%.cpp | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -Itests -Ibench -MMD -MP -c $< -o $@

$(TEST_BIN): $(TEST_OBJS) $(BENCH_UTIL_A) $(HOST_LIB_A)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $(TEST_OBJS) $(BENCH_UTIL_A) $(HOST_LIB_A) $(LDLIBS)

# Runs from the repository root. cuobjdump is looked up again at run time because `make deps`
# may have installed it during this very make (the Makefile's $(CUOBJDUMP) is then empty).
test: $(TEST_BIN) cubins $(BENCH_CUBINS) cubin-trace $(DEPS_STAMP)
	@cuobjdump_bin='$(CUOBJDUMP)'; \
	  if [ -z "$$cuobjdump_bin" ] && [ -x .deps/bin/cuobjdump ]; then cuobjdump_bin=.deps/bin/cuobjdump; fi; \
	  echo "PTXFMHA_CUBIN_DIR=$(abspath $(BUILD))/cubin $(TEST_BIN) $(TEST_ARGS)"; \
	  PTXFMHA_SOURCE_DIR='$(CURDIR)' PTXFMHA_BUILD_DIR='$(BUILD)' \
	  PTXFMHA_CUBIN_DIR='$(abspath $(BUILD))/cubin' PTXFMHA_CUOBJDUMP="$$cuobjdump_bin" \
	  $(TEST_BIN) $(TEST_ARGS)
	@$(MAKE) --no-print-directory python-test

-include $(TEST_OBJS:.o=.d)
