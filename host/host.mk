# host build fragment (included by the top-level Makefile)
#
# Builds the host library from every host/src/*.cpp (files other engineers add there join
# automatically):
#   $(HOST_LIB_A)   static archive: tests, bench and tools link it (internal C++ API included)
#   $(HOST_LIB_SO)  shared library exporting only the C ABI (ptxfmha_*; -fvisibility=hidden
#                   plus a version script that keeps everything else local)
# Objects and -MMD dependency files live under $(BUILD)/obj/host/. libcuda is never linked:
# host/src/driver.cpp loads it at run time (dlopen), so only $(LDLIBS) (-ldl -lpthread).
# One concern per file (runtime.h lists them: status, context, cubin, module_cache,
# tile_counter, device_range, tensor_map, launch, kernel_lookup; launch plans in fwd_plan.*
# and decode_plan.cpp); tests/test_cpu_host_layout.cpp keeps every file under 800 lines.

HOST_SRCS    := $(sort $(wildcard host/src/*.cpp))
HOST_OBJDIR  := $(BUILD)/obj/host
HOST_OBJS    := $(patsubst host/src/%.cpp,$(HOST_OBJDIR)/%.o,$(HOST_SRCS))
HOST_LIB_A   := $(BUILD)/lib/libptxfmha.a
HOST_LIB_SO  := $(BUILD)/lib/libptxfmha.so
HOST_SO_MAP  := $(HOST_OBJDIR)/libptxfmha.map
HOST_CXXFLAGS := -fvisibility=hidden -fvisibility-inlines-hidden -Werror=return-type

.PHONY: host
host: $(HOST_LIB_A) $(HOST_LIB_SO)
all: $(HOST_LIB_A) $(HOST_LIB_SO)

$(HOST_OBJDIR)/%.o: host/src/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(HOST_CXXFLAGS) -MMD -MP -c $< -o $@

$(HOST_LIB_A): $(HOST_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(HOST_SO_MAP): host/host.mk
	@mkdir -p $(dir $@)
	@printf '{\n  global: ptxfmha_*;\n  local: *;\n};\n' > $@

$(HOST_LIB_SO): $(HOST_OBJS) $(HOST_SO_MAP)
	@mkdir -p $(dir $@)
	$(CXX) -shared -o $@ $(HOST_OBJS) $(LDFLAGS) -Wl,--no-undefined \
	  -Wl,--version-script=$(HOST_SO_MAP) $(LDLIBS)

-include $(HOST_OBJS:.o=.d)
