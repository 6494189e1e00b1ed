"""The wheel: built by python/build_wheel.py from the build tree, holds the library, the
sources, the header and every architecture's cubins (byte for byte), a valid RECORD; pip
installs it into an empty directory, and the installed package imports (without PyTorch),
loads its own library and its own cubins, and reaches the C ABI."""

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import BUILD_DIR, HEADER, SOURCE_DIR

sys.path.insert(0, str(SOURCE_DIR / "python"))
import build_wheel  # noqa: E402

LIB = BUILD_DIR / "lib" / "libptxfmha.so"
CUBINS = BUILD_DIR / "cubin"


def _build(tmp):
    if not LIB.is_file() or not any(CUBINS.glob("*/*.cubin")):
        pytest.skip(f"no built library/cubins under {BUILD_DIR} (run `make python`)")
    args = ["--lib", str(LIB), "--cubin-dir", str(CUBINS), "--header", str(HEADER),
            "--src", str(SOURCE_DIR / "python" / "ptxfmha"), "--stage", str(tmp / "stage"), "--out", str(tmp / "out")]
    assert build_wheel.main(args) == 0
    (wheel,) = (tmp / "out").glob("ptxfmha-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("wheel"))


def test_wheel_name_and_metadata(wheel, ptxfmha):
    version = ptxfmha._lib.version()
    tag = build_wheel.platform_tag()
    assert wheel.name == f"ptxfmha-{version}-py3-none-{tag}.whl"
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(f"ptxfmha-{version}.dist-info/METADATA").decode()
        wh = z.read(f"ptxfmha-{version}.dist-info/WHEEL").decode()
    assert "Name: ptxfmha\n" in meta and f"Version: {version}\n" in meta
    assert f"Tag: py3-none-{tag}\n" in wh and "Root-Is-Purelib: false\n" in wh


def test_wheel_holds_library_sources_header_and_every_cubin(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert z.read("ptxfmha/_lib/libptxfmha.so") == LIB.read_bytes()
        assert z.read("ptxfmha/include/ptxfmha/ptxfmha.h") == HEADER.read_bytes()
        for src in (SOURCE_DIR / "python" / "ptxfmha").glob("*.py"):
            assert z.read(f"ptxfmha/{src.name}") == src.read_bytes(), src.name
        cubins = sorted(CUBINS.glob("*/*.cubin"))
        archs = {c.parent.name for c in cubins}
        assert {"sm90a", "sm100a"} <= archs
        for c in cubins:
            assert z.read(f"ptxfmha/cubin/{c.parent.name}/{c.name}") == c.read_bytes(), c
        packaged = {n for n in names if n.startswith("ptxfmha/cubin/")}
        assert len(packaged) == len(cubins)


def test_record_lists_every_file_with_its_digest(wheel):
    with zipfile.ZipFile(wheel) as z:
        (record_name,) = [n for n in z.namelist() if n.endswith(".dist-info/RECORD")]
        rows = list(csv.reader(io.StringIO(z.read(record_name).decode())))
        listed = {r[0] for r in rows}
        assert listed == set(z.namelist())
        for path, digest, size in rows:
            if path == record_name:
                assert digest == "" and size == ""
                continue
            data = z.read(path)
            want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (want, len(data)), path


def test_wheel_is_reproducible(wheel, tmp_path):
    again = _build(tmp_path)
    assert again.read_bytes() == wheel.read_bytes()


def _clean_env(path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTXFMHA_")}
    env["PYTHONPATH"] = str(path)
    return env


def test_pip_installs_and_the_package_imports(wheel, tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"{sys.executable} has no pip")
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--no-compile",
                        "--disable-pip-version-check", "-q", "--target", str(target), str(wheel)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    code = (
        "import sys, json, ctypes\n"
        "sys.modules['torch'] = None\n"  # importable without PyTorch
        "import ptxfmha\n"
        "from ptxfmha import _lib\n"
        "err = None\n"
        "try:\n"
        "    _lib.call('ptxfmha_fwd', None)\n"
        "except ptxfmha.ArgumentError as e:\n"
        "    err = str(e)\n"
        "print(json.dumps({'version': ptxfmha.__version__, 'lib': str(ptxfmha.library_path()),\n"
        "                  'cubin_dir': ptxfmha.cubin_dir(), 'file': ptxfmha.__file__, 'err': err}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env(target),
                       cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.strip().splitlines()[-1])
    pkg = (target / "ptxfmha").resolve()
    assert Path(info["file"]).resolve().parent == pkg
    assert Path(info["lib"]).resolve() == pkg / "_lib" / "libptxfmha.so"
    assert Path(info["cubin_dir"]).resolve() == pkg / "cubin"
    for arch in ("sm90a", "sm100a"):
        assert any((pkg / "cubin" / arch).glob("*.cubin")), arch
    assert info["err"] is not None and "params is NULL" in info["err"]
    assert info["version"] in wheel.name


def test_cubin_dir_environment_overrides_the_package(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp_path / "site")
    env = _clean_env(tmp_path / "site")
    env["PTXFMHA_CUBIN_DIR"] = str(tmp_path / "elsewhere")
    r = subprocess.run([sys.executable, "-c", "import sys; sys.modules['torch'] = None\n"
                        "import ptxfmha; print(ptxfmha.cubin_dir())"],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "elsewhere")
