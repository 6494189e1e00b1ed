#!/usr/bin/env python3
"""Stages the ptxfmha Python package and zips it into a wheel (standard library only).

    python3 python/build_wheel.py --lib build/lib/libptxfmha.so --cubin-dir build/cubin \
        --header host/include/ptxfmha/ptxfmha.h --src python/ptxfmha \
        --stage build/python/pkg --out build/python

The staged tree (<stage>/ptxfmha) is the installed package: the Python sources, the shared
library as _lib/libptxfmha.so, every architecture's cubins as cubin/<arch>/<kernel>.cubin and
the C header as include/ptxfmha/ptxfmha.h; PYTHONPATH=<stage> imports it in place. The wheel,
<out>/ptxfmha-<version>-py3-none-<platform>.whl, holds the same files plus its .dist-info
(METADATA, WHEEL, top_level.txt, RECORD with sha256 digests). The version is the library's own
(ptxfmha_version(), read through ctypes); the platform tag is this interpreter's
(linux_x86_64), since the library is built here against this system's C++ runtime. Older
ptxfmha-*.whl files in <out> are removed so that `pip install <out>/ptxfmha-*.whl` matches one
file. No network, no setuptools: the same on CI and on the GPU machine.
"""

import argparse
import base64
import ctypes
import hashlib
import shutil
import sys
import sysconfig
import zipfile
from pathlib import Path

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same inputs give the same wheel


def library_version(lib):
    cdll = ctypes.CDLL(str(Path(lib).resolve()))
    cdll.ptxfmha_version.restype = ctypes.c_char_p
    return cdll.ptxfmha_version().decode()


def platform_tag():
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def stage(args):
    root = Path(args.stage) / "ptxfmha"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    sources = sorted(Path(args.src).glob("*.py"))
    if not sources:
        sys.exit(f"build_wheel: no *.py under {args.src}")
    for f in sources:
        shutil.copy2(f, root / f.name)
    (root / "_lib").mkdir()
    shutil.copy2(args.lib, root / "_lib" / "libptxfmha.so")
    cubins = sorted(Path(args.cubin_dir).glob("*/*.cubin"))
    archs = sorted({c.parent.name for c in cubins})
    if not cubins:
        sys.exit(f"build_wheel: no <arch>/*.cubin under {args.cubin_dir} (run `make cubins`)")
    for c in cubins:
        dst = root / "cubin" / c.parent.name / c.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(c, dst)
    hdr = root / "include" / "ptxfmha" / "ptxfmha.h"
    hdr.parent.mkdir(parents=True)
    shutil.copy2(args.header, hdr)
    return root, archs, len(cubins)


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(root, version, out_dir, tag):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("ptxfmha-*.whl"):
        old.unlink()
    name = f"ptxfmha-{version}-py3-none-{tag}.whl"
    dist_info = f"ptxfmha-{version}.dist-info"
    files = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            files.append((p.relative_to(root.parent).as_posix(), p.read_bytes(), p.suffix == ".so"))
    meta = {
        "METADATA": (
            "Metadata-Version: 2.1\n"
            "Name: ptxfmha\n"
            f"Version: {version}\n"
            "Summary: Hand-written PTX fused attention kernels (Hopper, Blackwell) with PyTorch custom ops\n"
            "Requires-Python: >=3.9\n"
            "Description-Content-Type: text/plain\n\n"
            "ptx-fmha's C library (libptxfmha.so) and cubins with a ctypes binding, torch.library custom ops\n"
            "(ptxfmha.attention, ptxfmha.attention_with_kvcache) and a transformers attention backend\n"
            "(ptxfmha.hf.register()). PyTorch is optional for importing the package.\n"
        ),
        "WHEEL": (
            "Wheel-Version: 1.0\n"
            "Generator: ptx-fmha python/build_wheel.py\n"
            "Root-Is-Purelib: false\n"
            f"Tag: py3-none-{tag}\n"
        ),
        "top_level.txt": "ptxfmha\n",
    }
    for fname, text in meta.items():
        files.append((f"{dist_info}/{fname}", text.encode(), False))
    record = "".join(f"{path},{_digest(data)},{len(data)}\n" for path, data, _ in files)
    record += f"{dist_info}/RECORD,,\n"
    files.append((f"{dist_info}/RECORD", record.encode(), False))
    path = out_dir / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for arcname, data, executable in files:
            info = zipfile.ZipInfo(arcname, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if executable else 0o644) << 16
            z.writestr(info, data)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", required=True, help="built libptxfmha.so")
    ap.add_argument("--cubin-dir", required=True, help="directory of <arch>/<kernel>.cubin")
    ap.add_argument("--header", required=True, help="host/include/ptxfmha/ptxfmha.h")
    ap.add_argument("--src", required=True, help="python/ptxfmha (the package sources)")
    ap.add_argument("--stage", required=True, help="where the package tree is staged")
    ap.add_argument("--out", required=True, help="where the wheel is written")
    ap.add_argument("--plat", default=None, help="platform tag (default: this interpreter's)")
    args = ap.parse_args(argv)
    version = library_version(args.lib)
    root, archs, n_cubins = stage(args)
    wheel = write_wheel(root, version, args.out, args.plat or platform_tag())
    print(f"build_wheel: {wheel} (ptxfmha {version}; {n_cubins} cubins for {', '.join(archs)}; "
          f"staged package {root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
