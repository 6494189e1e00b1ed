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

from ptxfmha import _abi, _checks, _lib
from ptxfmha._abi import Status
from ptxfmha.errors import ArgumentError, DeviceError, PtxfmhaError, argument_of, python_name, status_error

GiB = 1 << 30
B, SQ, SK, HQ, HKV, D = 2, 128, 256, 8, 2, 64
FN = "test"


def qkv(sq=SQ, sk=SK, hq=HQ, hkv=HKV, d=D, b=B):
    return (T((b, sq, hq, d), ptr=1 * GiB), T((b, sk, hkv, d), ptr=2 * GiB), T((b, sk, hkv, d), ptr=3 * GiB))


def attn_params(q, k, v, out=None, lse=None, scale=0.125, causal=True, cu_q=None, cu_k=None, seqused=None,
                table=None, max_q=0, max_k=0, window=(-1, -1), softcap=0.0, sinks=None, alibi=None):
    """The block the torch op builds (same _checks code), from duck-typed tensors."""
    pr = _checks.attn_problem(FN, q, k, v, cu_q, cu_k, seqused, table, max_q, max_k, sinks, alibi)
    out = out or T(pr.out_shapes(False)[0], ptr=4 * GiB)
    return _checks.attn_params(pr, q, k, v, out, lse, cu_q, cu_k, seqused, table, causal, scale, window[0],
                               window[1], softcap, sinks, alibi, 0)


def call_fwd(q, k, v, **kw):
    """ptxfmha_attn, the entry point of every prefill op (fixed-length here unless kw says)."""
    _lib.call("ptxfmha_attn", ctypes.byref(attn_params(q, k, v, **kw)))


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
    ("ptxfmha_attn", "ptxfmha_attn: no sm90a kernel (device sm_90) implements softcap yet", None),
    ("ptxfmha_attn", "sink_logits = 0x2 is not 4-byte aligned", "sinks"),
    ("ptxfmha_decode_attn", "window_left = -2 must be >= -1", "window_size"),
    ("ptxfmha_bwd", "dout_seq_stride = 3 ...", "grad of out (dout)"),
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
    assert "q is NULL" in str(ei.value) and "ptxfmha_attn" in str(ei.value)


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
    return _checks.decode_attn_params(prob, q, kc, vc, T(q.shape, ptr=4 * GiB), None, sl, bt, True, 0.125, -1, -1,
                                      0.0, None, None, 0, 0, 0, 0)


def workspace_size(p):
    n = ctypes.c_uint64(0)
    _lib.call("ptxfmha_decode_attn_workspace_size", ctypes.byref(p), ctypes.byref(n))
    return n.value


def decode_call(sq=1, paged=False, page_size=64, table_ptr=6 * GiB, seqlens_ptr=7 * GiB):
    """ptxfmha_decode_attn with the workspace sized as a caller must."""
    call_decode_sized(decode_params(sq, paged, page_size, table_ptr, seqlens_ptr))


def call_decode_sized(p):
    """ptxfmha_decode_attn on block p with its workspace sized first (made-up address)."""
    try:
        n = workspace_size(p)
    except PtxfmhaError:
        # No device to plan on (then ptxfmha_decode stops at the same place), or a bad argument
        # (then ptxfmha_decode must report it itself: that is what the tests below check).
        n = 0
    if n:
        p.workspace, p.workspace_bytes = WORKSPACE_PTR, n
    _lib.call("ptxfmha_decode_attn", ctypes.byref(p))


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
    assert ei.value.argument == "cache_seqlens" and ei.value.function == "ptxfmha_decode_attn_workspace_size"


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
        assert_past_validation(lambda: _lib.call("ptxfmha_decode_attn", ctypes.byref(params())))
        return
    if n == 0:  # one split on this device: no workspace needed, NULL is fine
        assert_past_validation(lambda: _lib.call("ptxfmha_decode_attn", ctypes.byref(params())))
        return
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_decode_attn", ctypes.byref(params()))
    assert ei.value.status == Status.ERR_NULL_POINTER and ei.value.argument == "workspace", ei.value
    assert f"needs {n} bytes" in str(ei.value), ei.value
    short = params()
    short.workspace, short.workspace_bytes = WORKSPACE_PTR, n - 1
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_decode_attn", ctypes.byref(short))
    assert ei.value.status == Status.ERR_INVALID_ARGUMENT and ei.value.argument == "workspace_bytes", ei.value
    assert f"less than the {n} bytes" in str(ei.value), ei.value
    sized = params()
    sized.workspace, sized.workspace_bytes = WORKSPACE_PTR, n
    assert_past_validation(lambda: _lib.call("ptxfmha_decode_attn", ctypes.byref(sized)))


# ---- Python checks --------------------------------------------------------------------------

def test_valid_shapes_pass_python_checks():
    pr = _checks.attn_problem(FN, *qkv())
    assert (pr.batch, pr.seqlen_q, pr.seqlen_k, pr.heads_q, pr.heads_kv, pr.head_dim) == (B, SQ, SK, HQ, HKV, D)
    assert not (pr.varlen_q or pr.varlen_k or pr.paged) and pr.out_shapes(True) == ((B, SQ, HQ, D), (B, HQ, SQ))


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
        _checks.attn_problem(FN, q, k, v)
    assert ei.value.argument == arg and text in str(ei.value), str(ei.value)


def test_python_checks_reject_non_tensors():
    with pytest.raises(ArgumentError) as ei:
        _checks.attn_problem(FN, [1, 2], *qkv()[1:])
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
    ({"return_attn_probs": True}, "return_attn_probs"),
])
def test_flash_arguments_without_c_counterpart_are_refused(kw, arg):
    with pytest.raises(ArgumentError) as ei:
        _checks.check_flash_extras(FN, **kw)
    assert ei.value.argument == arg and "not supported" in str(ei.value)


def test_flash_arguments_neutral_values_pass():
    _checks.check_flash_extras(FN, 0.0, False)


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


# ---- ptxfmha_attn features through the real library ----------------------------------------

def varlen_qkv(total_q=300, total_k=500, batch=3):
    q = T((total_q, HQ, D), ptr=1 * GiB)
    k, v = T((total_k, HKV, D), ptr=2 * GiB), T((total_k, HKV, D), ptr=3 * GiB)
    cu_q = T((batch + 1,), ptr=6 * GiB, dtype="int32")
    cu_k = T((batch + 1,), ptr=6 * GiB + 256, dtype="int32")
    return q, k, v, cu_q, cu_k


def call_varlen(max_q=200, max_k=300, **kw):
    q, k, v, cu_q, cu_k = varlen_qkv()
    kw.setdefault("cu_q", cu_q)
    kw.setdefault("cu_k", cu_k)
    call_fwd(q, k, v, max_q=max_q, max_k=max_k, **kw)


def head_vector(ptr=7 * GiB, n=HQ):
    return T((n,), ptr=ptr, dtype="float32")


def test_valid_feature_calls_pass_validation():
    """Every feature with valid arguments: validation passes, the call stops at the device
    (without one) or at the made-up addresses (with one) - never at a check of its own."""
    assert_past_validation(lambda: call_varlen(causal=True, window=(64, 0), softcap=30.0, sinks=head_vector(),
                                               alibi=head_vector(7 * GiB + 256)))
    q, k, v = qkv()
    assert_past_validation(lambda: call_fwd(q, k, v, causal=False, window=(16, 16)))
    kc, vc = T((16, 64, HKV, D), ptr=2 * GiB), T((16, 64, HKV, D), ptr=3 * GiB)
    table, used = T((B, 4), ptr=6 * GiB, dtype="int32"), T((B,), ptr=6 * GiB + 256, dtype="int32")
    assert_past_validation(lambda: call_fwd(q, kc, vc, table=table, seqused=used))


@pytest.mark.parametrize("case,status,arg", [
    ("cu_q misaligned", Status.ERR_MISALIGNED_POINTER, "cu_seqlens_q"),
    ("max_q > total_q", Status.ERR_INVALID_ARGUMENT, "max_seqlen_q"),
    ("total_k > batch * max_k", Status.ERR_INVALID_ARGUMENT, "k.shape[0] (total_k)"),
    ("window right with causal", Status.ERR_INVALID_ARGUMENT, "window_size"),
    ("window left < -1", Status.ERR_INVALID_ARGUMENT, "window_size"),
    ("negative softcap", Status.ERR_INVALID_ARGUMENT, "softcap"),
    ("sinks misaligned", Status.ERR_MISALIGNED_POINTER, "sinks"),
    ("out overlaps sinks", Status.ERR_ALIASING, "out"),
])
def test_attn_feature_checks_name_the_python_argument(case, status, arg):
    q, k, v, cu_q, cu_k = varlen_qkv()
    kw = dict(max_q=200, max_k=300)
    if case == "cu_q misaligned":
        kw["cu_q"] = T((4,), ptr=6 * GiB + 2, dtype="int32")
    elif case == "max_q > total_q":
        kw["max_q"] = 301
    elif case == "total_k > batch * max_k":
        kw["max_k"] = 100
    elif case == "window right with causal":
        kw.update(causal=True, window=(-1, 5))
    elif case == "window left < -1":
        kw["window"] = (-2, -1)
    elif case == "negative softcap":
        kw["softcap"] = -1.0
    elif case == "sinks misaligned":
        kw["sinks"] = head_vector(7 * GiB + 2)
    elif case == "out overlaps sinks":
        kw["sinks"] = head_vector(4 * GiB + 64)
    kw.setdefault("cu_q", cu_q)
    kw.setdefault("cu_k", cu_k)
    with pytest.raises(ArgumentError) as ei:
        call_fwd(q, k, v, **kw)
    assert ei.value.status == status and ei.value.argument == arg, str(ei.value)
    assert ei.value.function == "ptxfmha_attn"


def test_paged_prefill_checks_name_the_cache():
    q = T((B, 64, HQ, D), ptr=1 * GiB)
    kc, vc = T((16, 24, HKV, D), ptr=2 * GiB), T((16, 24, HKV, D), ptr=3 * GiB)
    with pytest.raises(ArgumentError) as ei:
        call_fwd(q, kc, vc, table=T((B, 4), ptr=6 * GiB, dtype="int32"))
    assert ei.value.status == Status.ERR_INVALID_PAGE_TABLE and ei.value.argument == "k.shape[1] (page_size)"


def test_decode_attn_feature_checks():
    p = decode_params()
    p.window_left = -3
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_decode_attn", ctypes.byref(p))
    assert ei.value.argument == "window_size" and ei.value.function == "ptxfmha_decode_attn"
    p = decode_params()
    p.reserved = 1
    with pytest.raises(ArgumentError, match="reserved = 1 must be 0"):
        _lib.call("ptxfmha_decode_attn", ctypes.byref(p))
    p = decode_params()
    p.sink_logits = ctypes.cast(7 * GiB + 256 + 1, p.sink_logits.__class__)
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_decode_attn", ctypes.byref(p))
    assert ei.value.status == Status.ERR_MISALIGNED_POINTER and ei.value.argument == "sinks"


def test_check_metadata_validates_the_block_first():
    q, k, v, cu_q, cu_k = varlen_qkv()
    p = attn_params(q, k, v, cu_q=cu_q, cu_k=cu_k, max_q=200, max_k=300)
    assert_past_validation(lambda: _lib.call("ptxfmha_check_metadata", ctypes.byref(p)))
    p.max_seqlen_q = 301
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_check_metadata", ctypes.byref(p))
    assert ei.value.argument == "max_seqlen_q" and ei.value.function == "ptxfmha_check_metadata"
    assert_past_validation(lambda: _lib.call("ptxfmha_check_decode_metadata", ctypes.byref(decode_params())))


# ---- versioned blocks ---------------------------------------------------------------------

@pytest.mark.parametrize("cls", [_abi.AttnParams, _abi.DecodeAttnParams, _abi.BwdParams], ids=lambda c: c.__name__)
def test_blocks_come_from_the_library_init(cls):
    """new_params: the library's defaults (window -1 = unbounded, everything else 0) with
    struct_size = sizeof of the mirror; a fresh copy each time."""
    p = _lib.new_params(cls)
    assert p.struct_size == ctypes.sizeof(cls)
    for name, _ in cls._fields_[1:]:
        want = -1 if name in ("window_left", "window_right") else 0
        got = getattr(p, name)
        got = ctypes.cast(got, ctypes.c_void_p).value or 0 if isinstance(got, ctypes._Pointer) else (got or 0)
        assert got == want, (name, got)
    p.batch = 7
    assert _lib.new_params(cls).batch == 0


def test_a_shorter_mirror_is_a_valid_older_caller():
    """struct_size versioning: a block the size of the first version is read as a prefix (what
    a mirror without a newly appended field sends); one byte short is refused."""
    q, k, v = qkv()
    p = attn_params(q, k, v)
    assert ctypes.sizeof(p) >= 272  # PTXFMHA_ATTN_PARAMS_SIZE_V1
    p.struct_size = 272
    assert_past_validation(lambda: _lib.call("ptxfmha_attn", ctypes.byref(p)))
    p.struct_size = 271
    with pytest.raises(ArgumentError, match="struct_size = 271"):
        _lib.call("ptxfmha_attn", ctypes.byref(p))


# ---- ptxfmha_bwd ----------------------------------------------------------------------------

def bwd_block(sq=SQ, sk=SK, causal=True, features=None, **kw):
    """The block ptxfmha::bwd builds (same _checks code); `features`: bwd_params' version-2
    keywords (window_left, window_right, softcap, sinks, alibi_slopes, d_sink)."""
    q, k, v = qkv(sq=sq, sk=sk)
    t = dict(out=T(q.shape, ptr=4 * GiB), dout=T(q.shape, ptr=5 * GiB),
             dq=T(q.shape, ptr=9 * GiB), dk=T(k.shape, ptr=10 * GiB), dv=T(v.shape, ptr=11 * GiB),
             lse=T((B, HQ, sq), ptr=12 * GiB, dtype="float32"))
    t.update(kw)
    return _checks.bwd_params(t["dout"], q, k, v, t["out"], t["lse"], t["dq"], t["dk"], t["dv"], causal, 0.125,
                              False, 0, 0, 0, **(features or {}))


ALL_FEATURES = dict(window_left=5, window_right=0, softcap=30.0, sinks=head_vector(13 * GiB),
                    alibi_slopes=head_vector(14 * GiB), d_sink=head_vector(15 * GiB))


def bwd_workspace(p):
    n = ctypes.c_uint64(0)
    _lib.call("ptxfmha_bwd_workspace_size", ctypes.byref(p), ctypes.byref(n))
    return n.value


def test_bwd_workspace_needs_no_device_and_depends_on_the_query_side():
    n = bwd_workspace(bwd_block())
    assert n > 0 and n % 256 == 0
    assert bwd_workspace(bwd_block(sk=2 * SK)) == n
    assert bwd_workspace(bwd_block(sq=4 * SQ)) > 3 * n


def test_bwd_checks_name_the_python_argument():
    p = bwd_block(dout=T((B, SQ, HQ, D), ptr=0))
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_bwd", ctypes.byref(p))
    assert ei.value.status == Status.ERR_NULL_POINTER and ei.value.argument == "grad of out (dout)"
    p = bwd_block()
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_bwd", ctypes.byref(p))
    assert ei.value.status == Status.ERR_NULL_POINTER and ei.value.argument == "workspace", str(ei.value)
    p = bwd_block(dq=T((B, SQ, HQ, D), ptr=1 * GiB))          # dq over q
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_bwd", ctypes.byref(p))
    assert ei.value.status == Status.ERR_ALIASING
    p = bwd_block()
    p.deterministic = 2
    with pytest.raises(ArgumentError, match="deterministic = 2"):
        _lib.call("ptxfmha_bwd", ctypes.byref(p))


def test_valid_bwd_passes_validation():
    for det in (False, True):
        p = bwd_block()
        p.deterministic = int(det)
        p.workspace, p.workspace_bytes = 16 * GiB, bwd_workspace(p)
        assert_past_validation(lambda: _lib.call("ptxfmha_bwd", ctypes.byref(p)))


def test_bwd_features_fill_the_version_2_fields():
    """bwd_params puts window / softcap / ALiBi / sinks / d_sink in their C fields (and nothing
    in the variable-length ones, which ptxfmha_bwd refuses)."""
    p = bwd_block(features=ALL_FEATURES)
    assert (p.window_left, p.window_right, p.softcap, p.reserved1) == (5, 0, 30.0, 0)
    addr = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
    assert (addr(p.sink_logits), addr(p.alibi_slopes), addr(p.d_sink)) == (13 * GiB, 14 * GiB, 15 * GiB)
    assert not any(addr(getattr(p, f)) for f in ("cu_seqlens_q", "cu_seqlens_k", "seqused_k"))
    assert (p.max_seqlen_q, p.max_seqlen_k, p.total_q, p.total_k) == (0, 0, 0, 0)
    d = bwd_block()
    assert (d.window_left, d.window_right, d.softcap, addr(d.sink_logits), addr(d.d_sink)) == (-1, -1, 0.0, None, None)


@pytest.mark.parametrize("causal,features", [
    (True, ALL_FEATURES),
    (False, dict(window_left=3, window_right=7, softcap=1.5)),
    (False, dict(sinks=head_vector(13 * GiB))),                       # sinks without their gradient
], ids=["all", "window-softcap", "sinks-no-dsink"])
def test_valid_bwd_features_pass_validation(causal, features):
    p = bwd_block(causal=causal, features=features)
    p.workspace, p.workspace_bytes = 16 * GiB, bwd_workspace(p)
    assert_past_validation(lambda: _lib.call("ptxfmha_bwd", ctypes.byref(p)))


@pytest.mark.parametrize("features,status,argument,text", [
    (dict(softcap=-1.0), Status.ERR_INVALID_ARGUMENT, "softcap", "softcap"),
    (dict(softcap=math.nan), Status.ERR_INVALID_ARGUMENT, "softcap", "softcap"),
    (dict(window_left=-2), Status.ERR_INVALID_ARGUMENT, "window_size", "window_left"),
    (dict(window_right=3), Status.ERR_INVALID_ARGUMENT, "window_size", "window_right"),   # with causal
    (dict(d_sink=head_vector(15 * GiB)), None, "grad of sinks (d_sink)", "sink_logits is NULL"),
    (dict(sinks=head_vector(13 * GiB), d_sink=head_vector(13 * GiB)), Status.ERR_ALIASING, None, "d_sink"),
    (dict(sinks=head_vector(13 * GiB + 2)), None, "sinks", "align"),
], ids=["softcap<0", "softcap-nan", "left<-1", "causal-right", "dsink-alone", "dsink-over-sinks", "sinks-misaligned"])
def test_bwd_feature_checks_of_the_library(features, status, argument, text):
    """The library's checks of the version-2 fields, reached through the block ptxfmha::bwd builds
    (a valid workspace, so that the feature check is the one that fails), before any device."""
    p = bwd_block(features=features)
    p.workspace, p.workspace_bytes = 16 * GiB, 1 << 30
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_bwd", ctypes.byref(p))
    e = ei.value
    assert status is None or e.status == status, str(e)
    assert argument is None or e.argument == argument, (e.argument, str(e))
    assert text in str(e), str(e)


def test_bwd_varlen_block_keeping_fixed_lengths_is_refused_naming_the_field():
    # The C backward takes variable-length batches (cu_seqlens_*): a block that sets
    # cu_seqlens_q but keeps the fixed length seqlen_q is refused before any launch, the
    # message naming both fields.
    p = bwd_block()
    p.workspace, p.workspace_bytes = 16 * GiB, 1 << 30
    p.cu_seqlens_q = ctypes.cast(20 * GiB, _abi._I32P)
    with pytest.raises(ArgumentError) as ei:
        _lib.call("ptxfmha_bwd", ctypes.byref(p))
    assert ei.value.status == Status.ERR_INVALID_ARGUMENT, str(ei.value)
    assert "seqlen_q" in str(ei.value) and "cu_seqlens_q" in str(ei.value), str(ei.value)


# ---- Python checks of the new arguments ------------------------------------------------------

@pytest.mark.parametrize("case,arg,text", [
    ("varlen q 4-D", "q", "expected 3 dims"),
    ("cu_seqlens int64", "cu_seqlens_q", "accepted: int32"),
    ("cu_seqlens_k length", "cu_seqlens_k", "expected (4,)"),
    ("table and cu_seqlens_k", "cu_seqlens_k", "both given"),
    ("seqused_k shape", "seqused_k", "expected (3,)"),
    ("sinks shape", "sinks", "[heads_q] = [8] float32"),
    ("sinks bf16", "sinks", "accepted: float32"),
    ("alibi per batch", "alibi_slopes", "per-batch slopes"),
    ("max_seqlen_q negative", "max_seqlen_q", ">= 0"),
])
def test_attn_python_checks(case, arg, text):
    q, k, v, cu_q, cu_k = varlen_qkv()
    kw = dict(cu_seqlens_q=cu_q, cu_seqlens_k=cu_k, max_seqlen_q=200, max_seqlen_k=300)
    if case == "varlen q 4-D":
        q = T((1, 300, HQ, D), ptr=1 * GiB)
    elif case == "cu_seqlens int64":
        kw["cu_seqlens_q"] = T((4,), ptr=6 * GiB, dtype="int64")
    elif case == "cu_seqlens_k length":
        kw["cu_seqlens_k"] = T((5,), ptr=6 * GiB, dtype="int32")
    elif case == "table and cu_seqlens_k":
        k, v = T((16, 64, HKV, D), ptr=2 * GiB), T((16, 64, HKV, D), ptr=3 * GiB)
        kw["block_table"] = T((3, 4), ptr=7 * GiB, dtype="int32")
    elif case == "seqused_k shape":
        kw["seqused_k"] = T((4,), ptr=7 * GiB, dtype="int32")
    elif case == "sinks shape":
        kw["sinks"] = T((HQ + 1,), ptr=7 * GiB, dtype="float32")
    elif case == "sinks bf16":
        kw["sinks"] = T((HQ,), ptr=7 * GiB)
    elif case == "alibi per batch":
        kw["alibi_slopes"] = T((HQ * 3,), ptr=7 * GiB, dtype="float32")
    elif case == "max_seqlen_q negative":
        kw["max_seqlen_q"] = -1
    with pytest.raises(ArgumentError) as ei:
        _checks.attn_problem(FN, q, k, v, **kw)
    assert ei.value.argument == arg and text in str(ei.value), str(ei.value)


def test_paged_problem_sizes_for_prefill():
    q = T((B, 40, HQ, D), ptr=1 * GiB)
    kc, vc = T((16, 64, HKV, D), ptr=2 * GiB), T((16, 64, HKV, D), ptr=3 * GiB)
    bt = T((B, 5), ptr=6 * GiB, dtype="int32")
    pr = _checks.attn_problem(FN, q, kc, vc, block_table=bt)
    assert (pr.paged, pr.page_size, pr.num_pages, pr.max_blocks_per_seq, pr.seqlen_k) == (True, 64, 16, 5, 320)
    assert _checks.attn_problem(FN, q, kc, vc, block_table=bt, max_seqlen_k=100).seqlen_k == 100


def test_varlen_problem_sizes_and_outputs():
    q, k, v, cu_q, cu_k = varlen_qkv()
    pr = _checks.attn_problem(FN, q, k, v, cu_q, cu_k, max_seqlen_q=200, max_seqlen_k=300)
    assert (pr.batch, pr.total_q, pr.total_k, pr.seqlen_q, pr.seqlen_k) == (3, 300, 500, 0, 0)
    assert pr.out_shapes(True) == ((300, HQ, D), (HQ, 300)) and pr.query_rows == 300
    p = attn_params(q, k, v, cu_q=cu_q, cu_k=cu_k, max_q=200, max_k=300)
    assert (p.q_batch_stride, p.q_seq_stride, p.q_head_stride) == (0, HQ * D, D)
    assert (p.k_batch_stride, p.k_seq_stride) == (0, HKV * D) and (p.total_q, p.total_k) == (300, 500)
    assert ctypes.cast(p.cu_seqlens_q, ctypes.c_void_p).value == 6 * GiB
    empty = _checks.attn_problem(FN, T((0, HQ, D), ptr=0), k, v, cu_q, cu_k, max_seqlen_q=0, max_seqlen_k=300)
    assert empty.query_rows == 0


@pytest.mark.parametrize("ws,arg", [((1, 2, 3), "window_size"), (5, "window_size"), ((1.5, 0), "window_size"),
                                    ((True, 0), "window_size")])
def test_window_size_must_be_a_pair_of_ints(ws, arg):
    with pytest.raises(ArgumentError) as ei:
        _checks.resolve_window(FN, ws)
    assert ei.value.argument == arg
    assert _checks.resolve_window(FN, None) == (-1, -1) and _checks.resolve_window(FN, [4, 0]) == (4, 0)


def test_softcap_type():
    assert _checks.resolve_softcap(FN, None) == 0.0 and _checks.resolve_softcap(FN, 30) == 30.0
    with pytest.raises(ArgumentError):
        _checks.resolve_softcap(FN, "30")


@pytest.mark.parametrize("causal,window,lq,lk,want", [
    (True, (-1, -1), 100, 100, (-1, 0)),         # causal
    (False, (-1, -1), 100, 100, (-1, -1)),       # full
    (True, (99, 0), 100, 100, (-1, 0)),          # a window of the whole sequence is none
    (True, (98, 0), 100, 100, (98, 0)),
    (False, (10, 99), 100, 100, (10, -1)),
    (False, (10, 98), 100, 100, (10, 98)),
    (False, (-1, 0), 50, 100, (-1, 0)),          # window_right 0 is causal
])
def test_effective_window_matches_the_library(causal, window, lq, lk, want):
    assert _checks.effective_window(causal, *window, lq, lk) == want
