# python build fragment (included by the top-level Makefile, after tests/tests.mk)
#
#   make python        stage the package in $(PY_STAGE)/ptxfmha (sources, libptxfmha.so,
#                      every architecture's cubins, the C header) and zip it into the wheel
#                      $(PY_DIR)/ptxfmha-<version>-py3-none-<platform>.whl (python/build_wheel.py:
#                      standard library only, no network)
#   make python-test   pytest over python/tests against the staged package: CPU tests always
#                      (ctypes structs vs the C header, error mapping through the C ABI, wheel
#                      build + install + import); tests needing PyTorch, transformers or a GPU
#                      are reported skipped without them. `make test` runs it after doctest.
#       PYTEST_ARGS='-k abi -v'   extra pytest arguments
#
# pytest comes from $(PYTHON)'s site-packages or, installed by tools/deps.d/50-pytest.sh,
# from .deps/pytest.

PY_DIR      := $(BUILD)/python
PY_STAGE    := $(PY_DIR)/pkg
PY_STAMP    := $(PY_DIR)/wheel.stamp
PY_SRCS     := $(sort $(wildcard python/ptxfmha/*.py))
PY_HEADER   := host/include/ptxfmha/ptxfmha.h
PYTEST_ARGS ?=

.PHONY: python python-test

python: $(PY_STAMP)

$(PY_STAMP): $(PY_SRCS) python/build_wheel.py $(HOST_LIB_SO) $(CUBINS) $(PY_HEADER)
	$(PYTHON) python/build_wheel.py --lib $(HOST_LIB_SO) --cubin-dir $(BUILD)/cubin \
	  --header $(PY_HEADER) --src python/ptxfmha --stage $(PY_STAGE) --out $(PY_DIR)
	@touch $@

# -p no:cacheprovider: no .pytest_cache in the source tree.
python-test: $(PY_STAMP) $(DEPS_STAMP)
	PYTHONPATH=$(abspath $(PY_STAGE)):$(CURDIR)/.deps/pytest$${PYTHONPATH:+:$$PYTHONPATH} \
	  PTXFMHA_SOURCE_DIR='$(CURDIR)' PTXFMHA_BUILD_DIR='$(abspath $(BUILD))' \
	  $(PYTHON) -m pytest -p no:cacheprovider -rs python/tests $(PYTEST_ARGS)
