"""The documented exceptions, without PyTorch or a GPU.

Python-side checks (_checks.py) are driven with duck-typed tensors; the C library's checks are
reached through the real libptxfmha.so with parameter blocks built by the same code the torch
ops use, from integer addresses: the library validates every argument before it touches a
device, so each bad argument comes back as its status and message, mapped to ArgumentError
(ValueError) or DeviceError (RuntimeError) naming the argument. A call whose arguments are all
valid gets past validation and stops at the device: DeviceError where there is no driver or GPU
(CI), or ArgumentError "not memory known to CUDA" for the made-up addresses on a GPU machine.

ptxfmha_decode checks its workspace only after planning on the device (host/src/decode.h,
"Flow"): the split count, and so the workspace size, depends on the SM count and occupancy. A
valid decode call therefore sizes its workspace first with ptxfmha_decode_workspace_size, as
every caller must, and passes a made-up address of that many bytes; the workspace checks
themselves are tested on their own (test_decode_workspace_checks_follow_planning)."""

import ctypes
import math
import subprocess
import sys

import pytest

from fake_tensor import Device, T

from ptxfmha import _checks, _lib
from ptxfmha._abi import Status
from ptxfmha.errors import ArgumentError, DeviceError, PtxfmhaError, argument_of, python_name, status_error

GiB = 1 << 30
B, SQ, SK, HQ, HKV, D = 2, 128, 256, 8, 2, 64
FN = "test"


def qkv(sq=SQ, sk=SK, hq=HQ, hkv=HKV, d=D, b=B):
    return (T((b, sq, hq, d), ptr=1 * GiB), T((b, sk, hkv, d), ptr=2 * GiB), T((b, sk, hkv, d), ptr=3 * GiB))


def call_fwd(q, k, v, out=None, lse=None, scale=0.125, causal=True):
    out = out or T(q.shape, ptr=4 * GiB)
    p = _checks.fwd_params(q, k, v, out, lse, causal, scale, 0)
    _lib.call("ptxfmha_fwd", ctypes.byref(p))


# Where a call with valid arguments stops without a usable GPU (CI: no driver).
NO_DEVICE = (Status.ERR_NO_DRIVER, Status.ERR_NO_DEVICE, Status.ERR_UNSUPPORTED_ARCH, Status.ERR_CUDA)


def assert_past_validation(call):
    """The arguments passed every check that needs no device: the call stopped at the device."""
    with pytest.raises(PtxfmhaError) as ei:
        call()
    e = ei.value
    if isinstance(e, DeviceError):
        assert e.status in NO_DEVICE, e
    else:  # a GPU is there: the made-up addresses are not CUDA memory
        assert e.status == Status.ERR_INVALID_ARGUMENT and "not memory known to CUDA" in str(e), e


# ---- status mapping -----------------------------------------------------------------------

@pytest.mark.parametrize("status", [s for s in Status if s != Status.OK], ids=lambda s: s.name)
def test_status_maps_to_value_or_runtime_error(status):
    e = status_error(int(status), "ptxfmha_fwd", "q_seq_stride = 100 is bad")
    device = status.name in ("ERR_NO_DRIVER", "ERR_NO_DEVICE", "ERR_UNSUPPORTED_ARCH", "ERR_CUBIN_MISSING",
                             "ERR_CUBIN_WRONG_ARCH", "ERR_CUBIN_INVALID", "ERR_CUDA")
    assert isinstance(e, RuntimeError if device else ValueError)
    assert not isinstance(e, ValueError if device else RuntimeError)
    assert e.status == status and e.function == "ptxfmha_fwd" and status.name in str(e)


def test_unknown_status_is_a_runtime_error():
    e = status_error(999, "ptxfmha_fwd", "?")
    assert isinstance(e, DeviceError) and "unknown status 999" in str(e)


@pytest.mark.parametrize("function,message,arg", [
    ("ptxfmha_fwd", "q_seq_stride = 100 elements is not a multiple of 8", "q"),
    ("ptxfmha_fwd", "heads_q = 6 is not a multiple of heads_kv = 4", "heads_q"),
    ("ptxfmha_decode", "seqlens_k = 0x3 is not 4-byte aligned", "cache_seqlens"),
    ("ptxfmha_decode", "k_head_stride = 12 ...", "k_cache"),
    ("ptxfmha_decode", "page_size = 24 must be a power of two", "k_cache.shape[1] (page_size)"),
    ("ptxfmha_fwd", "o (bytes [0x1, 0x2)) overlaps q", "out"),
    ("ptxfmha_fwd", "(no name first)", None),
])
def test_argument_names(function, message, arg):
    assert python_name(function, argument_of(message)) == arg


# ---- C checks through the real library ----------------------------------------------------

def test_null_pointer_is_value_error_naming_q():
    q, k, v = qkv()
    q._ptr = 0
    with pytest.raises(ValueError) as ei:
        call_fwd(q, k, v)
    assert ei.value.status == Status.ERR_NULL_POINTER and ei.value.argument == "q"
    assert "q is NULL" in str(ei.value) and "ptxfmha_fwd" in str(ei.value)


def test_misaligned_pointer_names_k():
    q, k, v = qkv()
    k._ptr += 8
    with pytest.raises(ArgumentError) as ei:
        call_fwd(q, k, v)
    assert ei.value.status == Status.ERR_MISALIGNED_POINTER and ei.value.argument == "k"


def test_gqa_ratio():
    q, k, v = qkv(hq=6, hkv=4)
    with pytest.raises(ArgumentError) as ei:
        call_fwd(q, k, v)
    assert ei.value.status == Status.ERR_GQA_RATIO and ei.value.argument == "heads_q"


def test_stride_not_a_multiple_of_8_names_the_tensor():
    q, k, v = qkv(hq=1, hkv=1)
    q._strides = (SQ * 100, 100, 100, 1)
    with pytest.raises(ArgumentError) as ei:
        call_fwd(q, k, v)
    assert ei.value.status == Status.ERR_INVALID_STRIDE and ei.value.argument == "q"
    assert "q_seq_stride = 100" in str(ei.value)


@pytest.mark.parametrize("scale", [0.0, -1.0, math.inf, math.nan])
def test_bad_scale(scale):
    q, k, v = qkv()
    with pytest.raises(ArgumentError) as ei:
        call_fwd(q, k, v, scale=scale)
    assert ei.value.status == Status.ERR_INVALID_SCALE and ei.value.argument == "softmax_scale"


def test_output_overlapping_input_is_aliasing():
    q, k, v = qkv()
    with pytest.raises(ArgumentError) as ei:
        call_fwd(q, k, v, out=T(q.shape, ptr=q.data_ptr()))
    assert ei.value.status == Status.ERR_ALIASING


def test_valid_fwd_arguments_pass_validation():
    q, k, v = qkv()
    assert_past_validation(lambda: call_fwd(q, k, v, lse=T((B, HQ, SQ), ptr=5 * GiB, dtype="float32")))


def test_noncontiguous_views_pass_validation():
    # q as a [b, h, s, d] tensor transposed to [b, s, h, d]; k/v slices of a packed kv buffer
    q = T((B, SQ, HQ, D), ptr=1 * GiB, strides=(HQ * SQ * D, D, SQ * D, 1))
    k = T((B, SK, HKV, D), ptr=2 * GiB, strides=(SK * 2 * HKV * D, 2 * HKV * D, D, 1))
    v = T((B, SK, HKV, D), ptr=2 * GiB + HKV * D * 2, strides=(SK * 2 * HKV * D, 2 * HKV * D, D, 1))
    assert_past_validation(lambda: call_fwd(q, k, v))


# A made-up workspace address: 16-byte aligned and clear of every other made-up range, so that
# a sized workspace passes the workspace checks and the call stops at the device-range check.
WORKSPACE_PTR = 8 * GiB


def decode_params(sq=1, paged=False, page_size=64, table_ptr=6 * GiB, seqlens_ptr=7 * GiB):
    q = T((B, sq, HQ, D), ptr=1 * GiB)
    if paged:
        pages = 16
        kc, vc = T((pages, page_size, HKV, D), ptr=2 * GiB), T((pages, page_size, HKV, D), ptr=3 * GiB)
        bt = T((B, 4), ptr=table_ptr, dtype="int32")
    else:
        kc, vc = T((B, SK, HKV, D), ptr=2 * GiB), T((B, SK, HKV, D), ptr=3 * GiB)
        bt = None
    sl = T((B,), ptr=seqlens_ptr, dtype="int32")
    prob = _checks.decode_problem(FN, q, kc, vc, sl, bt)
    return _checks.decode_params(prob, q, kc, vc, T(q.shape, ptr=4 * GiB), None, sl, bt, True, 0.125, 0, 0, 0, 0)


def workspace_size(p):
    n = ctypes.c_uint64(0)
    _lib.call("ptxfmha_decode_workspace_size", ctypes.byref(p), ctypes.byref(n))
    return n.value


def decode_call(sq=1, paged=False, page_size=64, table_ptr=6 * GiB, seqlens_ptr=7 * GiB):
    """ptxfmha_decode with the workspace sized as a caller must (ptxfmha_decode_workspace_size)."""
    p = decode_params(sq, paged, page_size, table_ptr, seqlens_ptr)
    try:
        n = workspace_size(p)
    except PtxfmhaError:
        # No device to plan on (then ptxfmha_decode stops at the same place), or a bad argument
        # (then ptxfmha_decode must report it itself: that is what the tests below check).
        n = 0
    if n:
        p.workspace, p.workspace_bytes = WORKSPACE_PTR, n
    _lib.call("ptxfmha_decode", ctypes.byref(p))


def test_decode_query_limit_matches_the_library():
    lim = _checks.DECODE_MAX_SEQLEN_Q
    with pytest.raises(ArgumentError) as ei:
        decode_call(sq=lim + 1)
    assert ei.value.argument == "seqlen_q" and f"limit of {lim}" in str(ei.value)
    assert_past_validation(lambda: decode_call(sq=lim))


def test_decode_page_size_names_the_cache():
    with pytest.raises(ArgumentError) as ei:
        decode_call(paged=True, page_size=24)
    assert ei.value.status == Status.ERR_INVALID_PAGE_TABLE
    assert ei.value.argument == "k_cache.shape[1] (page_size)"


def test_decode_misaligned_block_table():
    with pytest.raises(ArgumentError) as ei:
        decode_call(paged=True, table_ptr=6 * GiB + 2)
    assert ei.value.status == Status.ERR_MISALIGNED_POINTER and ei.value.argument == "block_table"


def test_decode_seqlens_named_cache_seqlens():
    with pytest.raises(ArgumentError) as ei:
        workspace_size(decode_params(seqlens_ptr=7 * GiB + 1))
    assert ei.value.argument == "cache_seqlens" and ei.value.function == "ptxfmha_decode_workspace_size"


def test_valid_paged_decode_passes_validation():
    assert_past_validation(lambda: decode_call(sq=4, paged=True, page_size=64))


def test_decode_workspace_checks_follow_planning():
    """The documented order (host/src/decode.h): validation, device, plan, then the workspace
    (present, large enough), then the device ranges. Without a device both entry points stop
    at the device; with one, ptxfmha_decode_workspace_size returns the plan's bytes and
    ptxfmha_decode refuses a NULL or short workspace for them before looking at any range."""
    def params():
        return decode_params(sq=_checks.DECODE_MAX_SEQLEN_Q)  # 4 KV splits, 133120 bytes on an H200

    try:
        n = workspace_size(params())
    except DeviceError as e:
        assert e.status in NO_DEVICE, e
        assert_past_validation(lambda: _lib.call("ptxfmha_decode", ctypes.byref(params())))
        return
    if n == 0:  # one split on this device: no workspace needed, NULL is fine
        assert_past_validation(lambda: _lib.call("ptxfmha_decode", ctypes.byref(params())))
        return
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_decode", ctypes.byref(params()))
    assert ei.value.status == Status.ERR_NULL_POINTER and ei.value.argument == "workspace", ei.value
    assert f"needs {n} bytes" in str(ei.value), ei.value
    short = params()
    short.workspace, short.workspace_bytes = WORKSPACE_PTR, n - 1
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_decode", ctypes.byref(short))
    assert ei.value.status == Status.ERR_INVALID_ARGUMENT and ei.value.argument == "workspace_bytes", ei.value
    assert f"less than the {n} bytes" in str(ei.value), ei.value
    sized = params()
    sized.workspace, sized.workspace_bytes = WORKSPACE_PTR, n
    assert_past_validation(lambda: _lib.call("ptxfmha_decode", ctypes.byref(sized)))


# ---- Python checks --------------------------------------------------------------------------

def test_valid_shapes_pass_python_checks():
    assert _checks.fwd_problem(FN, *qkv()) == (B, SQ, SK, HQ, HKV, D)


@pytest.mark.parametrize("mutate,arg,text", [
    (lambda q, k, v: setattr(q, "dtype", type(q.dtype)("float16")), "q", "accepted: bfloat16"),
    (lambda q, k, v: setattr(k, "device", Device("cpu", None)), "k", "CUDA tensors only"),
    (lambda q, k, v: setattr(v, "device", Device("cuda", 1)), "v", "cuda:1"),
    (lambda q, k, v: setattr(q, "shape", q.shape[:3]), "q", "expected 4 dims"),
    (lambda q, k, v: setattr(q, "_strides", (1, 1, 1, 2)), "q", "head_dim contiguous"),
    (lambda q, k, v: setattr(v, "shape", (B, SK + 1, HKV, D)), "v", "same shape"),
    (lambda q, k, v: (setattr(k, "shape", (B + 1, SK, HKV, D)), setattr(v, "shape", (B + 1, SK, HKV, D))),
     "k", "batch"),
    (lambda q, k, v: (setattr(k, "shape", (B, SK, HKV, 128)), setattr(v, "shape", (B, SK, HKV, 128))),
     "k", "head_dim"),
    (lambda q, k, v: setattr(q, "shape", (B, 0, HQ, D)), "q", "empty dim"),
], ids=["dtype", "device", "other-device", "ndim", "head-stride", "kv-shape", "batch", "head-dim", "empty"])
def test_python_checks_raise_value_error(mutate, arg, text):
    q, k, v = qkv()
    mutate(q, k, v)
    with pytest.raises(ValueError) as ei:
        _checks.fwd_problem(FN, q, k, v)
    assert ei.value.argument == arg and text in str(ei.value), str(ei.value)


def test_python_checks_reject_non_tensors():
    with pytest.raises(ArgumentError) as ei:
        _checks.fwd_problem(FN, [1, 2], *qkv()[1:])
    assert "must be a CUDA tensor" in str(ei.value)


@pytest.mark.parametrize("case", ["seqlens-dtype", "seqlens-shape", "table-contiguous", "table-batch",
                                  "cache-batch", "table-device"])
def test_decode_python_checks(case):
    q = T((B, 1, HQ, D), ptr=1 * GiB)
    kc, vc = T((B, SK, HKV, D), ptr=2 * GiB), T((B, SK, HKV, D), ptr=3 * GiB)
    sl, bt = T((B,), ptr=7 * GiB, dtype="int32"), None
    if case == "seqlens-dtype":
        sl = T((B,), ptr=7 * GiB, dtype="int64")
    elif case == "seqlens-shape":
        sl = T((B + 1,), ptr=7 * GiB, dtype="int32")
    elif case == "table-contiguous":
        kc, vc = T((16, 64, HKV, D), ptr=2 * GiB), T((16, 64, HKV, D), ptr=3 * GiB)
        bt = T((B, 4), ptr=6 * GiB, dtype="int32", strides=(1, B))
    elif case == "table-batch":
        kc, vc = T((16, 64, HKV, D), ptr=2 * GiB), T((16, 64, HKV, D), ptr=3 * GiB)
        bt = T((B + 1, 4), ptr=6 * GiB, dtype="int32")
    elif case == "cache-batch":
        kc, vc = T((B + 1, SK, HKV, D), ptr=2 * GiB), T((B + 1, SK, HKV, D), ptr=3 * GiB)
    elif case == "table-device":
        kc, vc = T((16, 64, HKV, D), ptr=2 * GiB), T((16, 64, HKV, D), ptr=3 * GiB)
        bt = T((B, 4), ptr=6 * GiB, dtype="int32", device=Device("cuda", 1))
    with pytest.raises(ArgumentError) as ei:
        _checks.decode_problem(FN, q, kc, vc, sl, bt)
    expect = {"seqlens-dtype": "cache_seqlens", "seqlens-shape": "cache_seqlens", "cache-batch": "k_cache"}
    assert ei.value.argument == expect.get(case, "block_table"), str(ei.value)


def test_paged_problem_sizes():
    q = T((B, 2, HQ, D), ptr=1 * GiB)
    kc, vc = T((16, 64, HKV, D), ptr=2 * GiB), T((16, 64, HKV, D), ptr=3 * GiB)
    prob = _checks.decode_problem(FN, q, kc, vc, None, T((B, 5), ptr=6 * GiB, dtype="int32"))
    assert (prob.paged, prob.page_size, prob.num_pages, prob.max_blocks_per_seq, prob.max_seqlen_k) == \
        (True, 64, 16, 5, 320)


@pytest.mark.parametrize("kw,arg", [
    ({"dropout_p": 0.1}, "dropout_p"),
    ({"window_size": (128, 0)}, "window_size"),
    ({"softcap": 30.0}, "softcap"),
    ({"alibi_slopes": object()}, "alibi_slopes"),
    ({"return_attn_probs": True}, "return_attn_probs"),
])
def test_flash_arguments_without_c_counterpart_are_refused(kw, arg):
    with pytest.raises(ArgumentError) as ei:
        _checks.check_flash_extras(FN, **kw)
    assert ei.value.argument == arg and "not supported" in str(ei.value)


def test_flash_arguments_neutral_values_pass():
    _checks.check_flash_extras(FN, 0.0, (-1, -1), 0.0, None, False)


def test_softmax_scale_default_and_type():
    assert _checks.resolve_scale(FN, None, 64) == 0.125
    assert _checks.resolve_scale(FN, 2, 64) == 2.0
    for bad in (True, "0.1", None.__class__):
        with pytest.raises(ArgumentError):
            _checks.resolve_scale(FN, bad, 64)


def test_package_imports_without_torch(tmp_path):
    """`import ptxfmha` with PyTorch made unimportable: the C layer works, the torch entry points
    say what they need."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import ptxfmha\n"
        "assert not ptxfmha.torch_available()\n"
        "try:\n    ptxfmha.attention\nexcept ImportError as e:\n    print('ImportError:', e)\n"
        "print('version', ptxfmha.__version__)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "ImportError: ptxfmha.attention needs PyTorch" in r.stdout
    assert f"version {_lib.version()}" in r.stdout
