"""The FP8 (e4m3) KV cache of the decode path, without PyTorch or a GPU.

Python's checks (_checks.decode_problem) are driven with duck-typed tensors: every refusal
raises ArgumentError (ValueError) naming the argument. The plumbing into the C block
(_checks.decode_attn_params: kv_dtype, kv_scale_count, k_scale, v_scale) is read back field by
field, and the real libptxfmha.so validates the blocks: a valid e4m3 call gets past
validation and stops at the device, and the library's own e4m3 checks (16-byte strides, 4-byte
aligned scales, the scale count, outputs overlapping a scale) come back naming the Python
argument - which they can only do when the e4m3 fields reached the block."""

import ctypes

import pytest

from fake_tensor import Device, T
from test_cpu_errors import assert_past_validation, call_decode_sized as call

from ptxfmha import _checks
from ptxfmha._abi import Status
from ptxfmha.errors import ArgumentError

GiB = 1 << 30
B, HQ, HKV, D, SK = 2, 8, 2, 64, 256
FN = "test"
FP8 = "float8_e4m3fn"
K_SCALE_PTR, V_SCALE_PTR = 9 * GiB, 9 * GiB + 256


def caches(dtype=FP8, v_dtype=None, paged=False, d=D, strides=None):
    shape = (16, 64, HKV, d) if paged else (B, SK, HKV, d)
    return (T(shape, ptr=2 * GiB, dtype=dtype, strides=strides),
            T(shape, ptr=3 * GiB, dtype=v_dtype or dtype, strides=strides))


def scales(shape=(HKV,), dtype="float32", device=None, strides=None, v_shape=None):
    return (T(shape, ptr=K_SCALE_PTR, dtype=dtype, device=device, strides=strides),
            T(v_shape if v_shape is not None else shape, ptr=V_SCALE_PTR, dtype="float32"))


def fp8_block(kc=None, vc=None, ks=None, vs=None, paged=False, sq=1, d=D, out_ptr=4 * GiB):
    """The block the decode op builds (same _checks code) for an e4m3 cache."""
    q = T((B, sq, HQ, d), ptr=1 * GiB)
    if kc is None:
        kc, vc = caches(paged=paged, d=d)
    if ks is None:
        ks, vs = scales()
    bt = T((B, 4), ptr=6 * GiB, dtype="int32") if paged else None
    sl = T((B,), ptr=7 * GiB, dtype="int32")
    prob = _checks.decode_problem(FN, q, kc, vc, sl, bt, k_scale=ks, v_scale=vs)
    return _checks.decode_attn_params(prob, q, kc, vc, T(q.shape, ptr=out_ptr), None, sl, bt, True, 0.125, -1, -1,
                                      0.0, None, None, 0, 0, 0, 0, ks, vs)


# ---- Python refusals ---------------------------------------------------------------------------

@pytest.mark.parametrize("case,arg,text", [
    ("mixed-dtypes", "v_cache", "both must be bfloat16 or both"),
    ("mixed-dtypes-rev", "v_cache", "both must be bfloat16 or both"),
    ("fp16-cache", "k_cache", "accepted: bfloat16, float8_e4m3fn"),
    ("no-k-scale", "k_scale", "k_scale is required"),
    ("no-v-scale", "v_scale", "v_scale is required"),
    ("scale-dtype", "k_scale", "dtype float16"),
    ("scale-shape", "k_scale", "shape (3,)"),
    ("scale-2d", "k_scale", "shape (2, 2)"),
    ("scale-on-cpu", "k_scale", "on device cpu"),
    ("scale-other-gpu", "k_scale", "cuda:1"),
    ("scale-strided", "k_scale", "contiguous"),
    ("scale-not-a-tensor", "k_scale", "got float"),
    ("count-mismatch", "v_scale", "k_scale has 2 entries but v_scale has 1"),
    ("scale-with-bf16", "k_scale", "scales are for a float8_e4m3fn cache"),
    ("v-scale-with-bf16", "v_scale", "scales are for a float8_e4m3fn cache"),
])
def test_fp8_python_refusals(case, arg, text):
    q = T((B, 1, HQ, D), ptr=1 * GiB)
    kc, vc = caches()
    ks, vs = scales()
    if case == "mixed-dtypes":
        kc, vc = caches(FP8, "bfloat16")
    elif case == "mixed-dtypes-rev":
        kc, vc = caches("bfloat16", FP8)
    elif case == "fp16-cache":
        kc, vc = caches("float16")
    elif case == "no-k-scale":
        ks = None
    elif case == "no-v-scale":
        vs = None
    elif case == "scale-dtype":
        ks, vs = scales(dtype="float16")
    elif case == "scale-shape":
        ks, vs = scales((3,))
    elif case == "scale-2d":
        ks, vs = scales((2, 2))
    elif case == "scale-on-cpu":
        ks, vs = scales(device=Device("cpu", None))
    elif case == "scale-other-gpu":
        ks, vs = scales(device=Device("cuda", 1))
    elif case == "scale-strided":
        ks, vs = scales(strides=(2,))
    elif case == "scale-not-a-tensor":
        ks = 0.5
    elif case == "count-mismatch":
        ks, vs = scales((HKV,), v_shape=(1,))
    elif case == "scale-with-bf16":
        kc, vc = caches("bfloat16")
        vs = None
    elif case == "v-scale-with-bf16":
        kc, vc = caches("bfloat16")
        ks = None
    with pytest.raises(ArgumentError) as ei:
        _checks.decode_problem(FN, q, kc, vc, None, None, k_scale=ks, v_scale=vs)
    assert isinstance(ei.value, ValueError)
    assert ei.value.argument == arg and text in str(ei.value), str(ei.value)


@pytest.mark.parametrize("shape,count", [((), 1), ((1,), 1), ((HKV,), HKV)])
def test_fp8_scale_shapes_accepted(shape, count):
    q = T((B, 1, HQ, D), ptr=1 * GiB)
    kc, vc = caches()
    ks, vs = scales(shape)
    prob = _checks.decode_problem(FN, q, kc, vc, None, None, k_scale=ks, v_scale=vs)
    assert (prob.kv_dtype, prob.kv_scale_count) == (_checks.KV_DTYPE_E4M3, count)


def test_bf16_cache_problem_has_no_scales():
    q = T((B, 1, HQ, D), ptr=1 * GiB)
    kc, vc = caches("bfloat16")
    prob = _checks.decode_problem(FN, q, kc, vc)
    assert (prob.kv_dtype, prob.kv_scale_count) == (_checks.KV_DTYPE_BF16, 0)


# ---- the block ---------------------------------------------------------------------------------

@pytest.mark.parametrize("paged", [False, True])
@pytest.mark.parametrize("shape", [(1,), (HKV,)])
def test_fp8_fields_reach_the_block(paged, shape):
    ks, vs = scales(shape)
    p = fp8_block(ks=ks, vs=vs, paged=paged)
    assert p.kv_dtype == 1 and p.kv_scale_count == shape[0]
    assert ctypes.cast(p.k_scale, ctypes.c_void_p).value == K_SCALE_PTR
    assert ctypes.cast(p.v_scale, ctypes.c_void_p).value == V_SCALE_PTR
    # strides in elements (= bytes for e4m3), as the header says
    kc = caches(paged=paged)[0]
    assert (p.k_batch_stride, p.k_seq_stride, p.k_head_stride) == kc.stride()[:3]
    assert p.page_size == (64 if paged else 0) and p.max_seqlen_k == (4 * 64 if paged else SK)


def test_bf16_block_has_the_fp8_fields_off():
    q = T((B, 1, HQ, D), ptr=1 * GiB)
    kc, vc = caches("bfloat16")
    prob = _checks.decode_problem(FN, q, kc, vc)
    p = _checks.decode_attn_params(prob, q, kc, vc, T(q.shape, ptr=4 * GiB), None, None, None, True, 0.125, -1, -1,
                                   0.0, None, None, 0, 0, 0, 0)
    assert (p.kv_dtype, p.kv_scale_count) == (0, 0) and not p.k_scale and not p.v_scale


# ---- the library's validation of the e4m3 block -------------------------------------------------

@pytest.mark.parametrize("paged", [False, True])
@pytest.mark.parametrize("d", [64, 128, 256])
def test_valid_fp8_calls_pass_validation(paged, d):
    assert_past_validation(lambda: call(fp8_block(paged=paged, d=d)))


def test_fp8_strides_must_be_16_elements_naming_the_cache():
    """A seq stride of 72 elements is fine for bf16 (a multiple of 8) but not for e4m3 (16):
    the library only refuses it when kv_dtype reached the block."""
    strides = (SK * HKV * 80, HKV * 80, 72, 1)  # head stride 72 elements
    kc, vc = caches(strides=strides)
    with pytest.raises(ArgumentError) as ei:
        call(fp8_block(kc, vc))
    assert ei.value.argument == "k_cache" and "16" in str(ei.value), str(ei.value)
    # the same strides with a bf16 cache pass validation
    q = T((B, 1, HQ, D), ptr=1 * GiB)
    kb, vb = caches("bfloat16", strides=strides)
    prob = _checks.decode_problem(FN, q, kb, vb)
    p = _checks.decode_attn_params(prob, q, kb, vb, T(q.shape, ptr=4 * GiB), None, None, None, True, 0.125, -1, -1,
                                   0.0, None, None, 0, 0, 0, 0)
    assert_past_validation(lambda: call(p))


def test_fp8_misaligned_scale_names_k_scale():
    ks = T((HKV,), ptr=K_SCALE_PTR + 2, dtype="float32")
    with pytest.raises(ArgumentError) as ei:
        call(fp8_block(ks=ks, vs=scales()[1]))
    assert ei.value.status == Status.ERR_MISALIGNED_POINTER and ei.value.argument == "k_scale", str(ei.value)


def test_fp8_scale_count_is_checked_by_the_library():
    p = fp8_block()
    p.kv_scale_count = 3  # neither 1 nor heads_kv (Python never builds this)
    with pytest.raises(ArgumentError) as ei:
        call(p)
    assert ei.value.argument == "k_scale / v_scale (kv_scale_count)", str(ei.value)


def test_fp8_output_overlapping_a_scale_is_aliasing():
    with pytest.raises(ArgumentError) as ei:
        call(fp8_block(out_ptr=K_SCALE_PTR - 64))
    assert ei.value.status == Status.ERR_ALIASING and "k_scale" in str(ei.value), str(ei.value)
