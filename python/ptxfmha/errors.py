"""Exceptions of the ptxfmha package.

Two families, both carrying the library's status and message:

* `ArgumentError` (a `ValueError`): the arguments are wrong - a bad dtype, device, layout or
  shape caught in Python before anything is called, or a status of the C library that means a
  bad argument (NULL/misaligned pointer, unsupported head_dim, bad size or stride, aliasing,
  bad scale, bad page table, any other invalid argument).
* `DeviceError` (a `RuntimeError`): the machine is wrong - no CUDA driver or device, an
  architecture without kernels, a missing/foreign/corrupt cubin, a failing CUDA driver call.

`argument` names the offending argument where the message starts with it (the C library's
messages do: "q_seq_stride = 100 is not a multiple of 8 elements ..."); `function` is the C
entry point (or the Python function for checks done in Python).
"""

from __future__ import annotations

import re

from ._abi import Status


class PtxfmhaError(Exception):
    """Base of every ptxfmha exception: `status` (a `Status`, or None for Python-side checks),
    `function`, `argument` (or None) and the C library's `message`."""

    def __init__(self, text, *, status=None, function=None, argument=None, message=None):
        super().__init__(text)
        self.status = status
        self.function = function
        self.argument = argument
        self.message = message if message is not None else text


class ArgumentError(PtxfmhaError, ValueError):
    """Bad arguments (ValueError)."""


class DeviceError(PtxfmhaError, RuntimeError):
    """CUDA driver, device or cubin problems (RuntimeError)."""


# Every status except OK maps to one class; test_cpu_abi checks this covers the header.
STATUS_CLASS = {
    Status.ERR_NULL_POINTER: ArgumentError,
    Status.ERR_MISALIGNED_POINTER: ArgumentError,
    Status.ERR_UNSUPPORTED_HEAD_DIM: ArgumentError,
    Status.ERR_INVALID_SIZE: ArgumentError,
    Status.ERR_SIZE_OVERFLOW: ArgumentError,
    Status.ERR_GQA_RATIO: ArgumentError,
    Status.ERR_INVALID_STRIDE: ArgumentError,
    Status.ERR_ALIASING: ArgumentError,
    Status.ERR_INVALID_SCALE: ArgumentError,
    Status.ERR_NO_DRIVER: DeviceError,
    Status.ERR_NO_DEVICE: DeviceError,
    Status.ERR_UNSUPPORTED_ARCH: DeviceError,
    Status.ERR_CUBIN_MISSING: DeviceError,
    Status.ERR_CUBIN_WRONG_ARCH: DeviceError,
    Status.ERR_CUBIN_INVALID: DeviceError,
    Status.ERR_CUDA: DeviceError,
    Status.ERR_INVALID_PAGE_TABLE: ArgumentError,
    Status.ERR_INVALID_ARGUMENT: ArgumentError,
    # a feature (window, softcap, varlen, ...) this device's kernels do not have: an argument
    # this device cannot take, like an unsupported head_dim
    Status.ERR_UNSUPPORTED_FEATURE: ArgumentError,
    Status.ERR_INVALID_METADATA: ArgumentError,
}

# C parameter-struct names -> the Python argument they come from, per entry point, so that a
# message about e.g. `seqlens_k` also names `cache_seqlens`. Strides name the tensor.
_DECODE_NAMES = {
    "k": "k_cache",
    "v": "v_cache",
    "seqlens_k": "cache_seqlens",
    "max_seqlen_k": "k_cache / block_table (max_seqlen_k)",
    "page_size": "k_cache.shape[1] (page_size)",
    "num_pages": "k_cache.shape[0] (num_pages)",
    "max_blocks_per_seq": "block_table.shape[1] (max_blocks_per_seq)",
    "o": "out",
    "lse": "lse (return_lse=True)",
    "sink_logits": "sinks",
    "window_left": "window_size",
    "window_right": "window_size",
    "kv_dtype": "k_cache.dtype (kv_dtype)",
    "kv_scale_count": "k_scale / v_scale (kv_scale_count)",
}
_ATTN_NAMES = {
    "o": "out",
    "lse": "lse (return_lse=True)",
    "sink_logits": "sinks",
    "window_left": "window_size",
    "window_right": "window_size",
    "page_size": "k.shape[1] (page_size)",
    "num_pages": "k.shape[0] (num_pages)",
    "max_blocks_per_seq": "block_table.shape[1] (max_blocks_per_seq)",
    "total_q": "q.shape[0] (total_q)",
    "total_k": "k.shape[0] (total_k)",
}
C_TO_PYTHON_NAMES = {
    "ptxfmha_fwd": {"o": "out", "lse": "lse (return_lse=True)"},
    "ptxfmha_decode": _DECODE_NAMES,
    "ptxfmha_decode_workspace_size": _DECODE_NAMES,
    "ptxfmha_decode_attn": _DECODE_NAMES,
    "ptxfmha_decode_attn_workspace_size": _DECODE_NAMES,
    "ptxfmha_check_decode_metadata": _DECODE_NAMES,
    "ptxfmha_attn": _ATTN_NAMES,
    "ptxfmha_check_metadata": _ATTN_NAMES,
    "ptxfmha_bwd": {"o": "out", "dout": "grad of out (dout)", "lse": "lse (saved by the forward)",
                    "sink_logits": "sinks", "d_sink": "grad of sinks (d_sink)", "window_left": "window_size",
                    "window_right": "window_size"},
}
C_TO_PYTHON_NAMES["ptxfmha_bwd_workspace_size"] = C_TO_PYTHON_NAMES["ptxfmha_bwd"]
C_TO_PYTHON_NAMES["ptxfmha_check_bwd_metadata"] = C_TO_PYTHON_NAMES["ptxfmha_bwd"]

_LEADING_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\b")
_STRIDE_NAME = re.compile(r"^([a-z]+(?:_cache)?)_(?:batch|seq|head)_stride$")


def argument_of(message):
    """The argument a C message starts with ("q_seq_stride = 100 ..." -> "q_seq_stride"), or
    None when the message does not start with a name (e.g. "o (bytes [...]) overlaps q")."""
    m = _LEADING_NAME.match(message or "")
    if not m or m.group(1).startswith("ptxfmha_"):
        return None  # no name, or an entry point's ("ptxfmha_attn: no sm90a kernel implements ...")
    return m.group(1)


def python_name(function, c_name):
    """The Python argument behind a C name: "seqlens_k" -> "cache_seqlens" for decode,
    "k_head_stride" -> "k_cache" for decode, else the C name itself."""
    if c_name is None:
        return None
    names = C_TO_PYTHON_NAMES.get(function, {})
    if c_name in names:
        return names[c_name]
    m = _STRIDE_NAME.match(c_name)
    if m:
        tensor = m.group(1)
        return names.get(tensor, tensor)
    return c_name


def status_error(status, function, message):
    """The exception for a failing C call: `ArgumentError` or `DeviceError` by status, with a
    text naming the entry point, the C message and the Python argument."""
    try:
        status = Status(status)
    except ValueError:
        return DeviceError(
            f"{function} returned unknown status {status}: {message}",
            status=status,
            function=function,
            message=message,
        )
    cls = STATUS_CLASS.get(status, DeviceError)
    c_arg = argument_of(message)
    py_arg = python_name(function, c_arg)
    text = f"{function}: {message} [{status.name}]"
    if py_arg is not None and py_arg != c_arg:
        text += f" (argument {py_arg})"
    return cls(text, status=status, function=function, argument=py_arg, message=message)
