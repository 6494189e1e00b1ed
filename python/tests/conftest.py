"""Shared fixtures of the Python tests.

Run by `make python-test` (and `make test` after doctest) against the staged package
(PYTHONPATH=build/python/pkg). Test files:
  test_cpu_*.py   always run: no PyTorch, no GPU (CI)
  test_torch_*.py need PyTorch (and transformers where said); no GPU
  test_gpu_*.py   need PyTorch and a GPU with ptx-fmha kernels (sm_90a / sm_100a); skipped
                  otherwise. They record their accuracy figures, printed at the end of the run.
"""

import os
import sys
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("PTXFMHA_SOURCE_DIR") or Path(__file__).resolve().parents[2])
BUILD_DIR = Path(os.environ.get("PTXFMHA_BUILD_DIR") or SOURCE_DIR / "build")
HEADER = SOURCE_DIR / "host" / "include" / "ptxfmha" / "ptxfmha.h"

# (test id, kernel path, rel. L2, cosine, max abs err O, max abs err LSE or None), appended by
# the GPU tests and printed by pytest_terminal_summary.
FIGURES = []


def record_figures(name, path, rel_l2, cosine, max_abs, lse_abs=None):
    FIGURES.append((name, path, rel_l2, cosine, max_abs, lse_abs))


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    tr = terminalreporter
    tr.section("ptxfmha accuracy vs float64 SDPA on the same bf16 inputs")
    tr.write_line(f"{'case':58s} {'path':7s} {'rel.L2':>9s} {'cosine':>10s} {'max|err|':>9s} {'LSE|err|':>9s}")
    for name, path, rel, cos, mx, lse in FIGURES:
        lse_s = f"{lse:9.2e}" if lse is not None else f"{'-':>9s}"
        tr.write_line(f"{name[:58]:58s} {path:7s} {rel:9.2e} {cos:10.7f} {mx:9.2e} {lse_s}")
    by_path = {}
    for _, path, rel, cos, mx, lse in FIGURES:
        w = by_path.setdefault(path, [0, 0.0, 1.0, 0.0, 0.0])
        w[0] += 1
        w[1], w[2], w[3] = max(w[1], rel), min(w[2], cos), max(w[3], mx)
        w[4] = max(w[4], lse or 0.0)
    for path, (n, rel, cos, mx, lse) in sorted(by_path.items()):
        tr.write_line(f"worst {path}: {n} cases, rel.L2 {rel:.2e}, min cosine {cos:.7f}, "
                      f"max|err| {mx:.2e}, LSE max|err| {lse:.2e}")


@pytest.fixture(scope="session")
def ptxfmha():
    import ptxfmha as pkg
    return pkg


def have_module(name):
    try:
        __import__(name)
    except Exception:
        return False
    return True


def python_exe():
    return sys.executable
