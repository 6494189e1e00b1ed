"""The ctypes mirror (ptxfmha/_abi.py) against the C header, field by field.

Offsets, sizes and alignments come from a C program compiled against
host/include/ptxfmha/ptxfmha.h with the system C compiler; member names/types, enumerators and
prototypes from parsing the header. Header structs and functions the package does not bind yet
are reported as skipped (with their names), never passed. A versioned block (struct_size
first: ptxfmha_attn_params, ptxfmha_decode_attn_params, ptxfmha_bwd_params) may be bound as a
prefix of the header's - a valid older caller, since the library reads struct_size bytes -
with the fields past it reported as not bound (skipped) until their line is appended. The
comparator is shown to catch broken mirrors (reordered, resized, missing and mistyped members,
a versioned prefix that is not a prefix)."""

import ctypes

import pytest

import c_header
from conftest import HEADER

from ptxfmha import _abi
from ptxfmha.errors import STATUS_CLASS, ArgumentError, DeviceError

HEADER_TEXT = HEADER.read_text()
H_STRUCTS = c_header.structs(HEADER_TEXT)
H_ENUMS = c_header.enums(HEADER_TEXT)
H_PROTOS = c_header.prototypes(HEADER_TEXT)

SCALARS = {
    "int32_t": ctypes.c_int32,
    "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
    "ptxfmha_status": ctypes.c_int32,
}


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    try:
        return c_header.compiled_layout(HEADER, H_STRUCTS, list(H_ENUMS), tmp_path_factory.mktemp("abi"))
    except FileNotFoundError as e:
        pytest.skip(str(e))


def _is_pointer_ctype(t):
    return t in (ctypes.c_void_p, ctypes.c_char_p) or (isinstance(t, type) and issubclass(t, ctypes._Pointer))


def ctype_matches(c_type, ctype):
    """Whether a ctypes type is the right kind for a C member/parameter type."""
    if c_type.endswith("*"):
        return _is_pointer_ctype(ctype)
    return SCALARS.get(c_type) is ctype


def versioned(members):
    return members[0] == ("uint64_t", "struct_size")


def compare_struct(c_name, members, sizes, fields, cls):
    """Every difference between the C layout of `c_name` and the ctypes class, as text. A
    versioned block may be a prefix: its size is then where the next header member starts."""
    problems = []
    c_names = [n for _, n in members]
    py_fields = list(cls._fields_)
    py_names = [n for n, _ in py_fields]
    size, align = sizes[c_name]
    if versioned(members) and len(py_names) < len(c_names) and c_names[:len(py_names)] == py_names:
        size = fields[(c_name, c_names[len(py_names)])][0]  # a prefix: the header's next member starts here
    elif c_names != py_names:
        problems.append(f"{c_name}: members differ: C {c_names} vs ctypes {py_names}")
    if ctypes.sizeof(cls) != size:
        problems.append(f"{c_name}: sizeof C {size} vs ctypes {ctypes.sizeof(cls)}")
    if ctypes.alignment(cls) != align:
        problems.append(f"{c_name}: alignment C {align} vs ctypes {ctypes.alignment(cls)}")
    py_types = dict(py_fields)
    for c_type, name in members:
        if name not in py_types:
            continue
        desc = getattr(cls, name)
        off, sz = fields[(c_name, name)]
        if (desc.offset, desc.size) != (off, sz):
            problems.append(f"{c_name}.{name}: C offset/size {off}/{sz} vs ctypes {desc.offset}/{desc.size}")
        if not ctype_matches(c_type, py_types[name]):
            problems.append(f"{c_name}.{name}: C type {c_type} vs ctypes {py_types[name].__name__}")
    return problems


def test_header_parses_the_abi():
    assert {"ptxfmha_fwd_params", "ptxfmha_decode_params", "ptxfmha_attn_params", "ptxfmha_decode_attn_params",
            "ptxfmha_bwd_params"} <= set(H_STRUCTS)
    assert H_ENUMS["PTXFMHA_ERR_UNSUPPORTED_FEATURE"] == 19 and H_ENUMS["PTXFMHA_ERR_INVALID_METADATA"] == 20
    assert H_ENUMS["PTXFMHA_OK"] == 0 and len(H_ENUMS) >= 19
    assert {"ptxfmha_fwd", "ptxfmha_decode", "ptxfmha_last_error"} <= set(H_PROTOS)
    assert ("int64_t", "q_seq_stride") in H_STRUCTS["ptxfmha_fwd_params"]


@pytest.mark.parametrize("c_name", sorted(H_STRUCTS))
def test_struct_layout_matches_header(c_name, layout):
    cls = _abi.STRUCTS.get(c_name)
    if cls is None:
        pytest.skip(f"{c_name} is in ptxfmha.h but not bound in ptxfmha/_abi.py yet")
    sizes, fields, _ = layout
    assert compare_struct(c_name, H_STRUCTS[c_name], sizes, fields, cls) == []


@pytest.mark.parametrize("c_name", sorted(n for n, m in H_STRUCTS.items() if versioned(m)))
def test_versioned_block_binds_every_header_field(c_name):
    cls = _abi.STRUCTS.get(c_name)
    if cls is None:
        pytest.skip(f"{c_name} is not bound")
    missing = [n for _, n in H_STRUCTS[c_name][len(cls._fields_):]]
    if missing:
        pytest.skip(f"{c_name}: fields {', '.join(missing)} of ptxfmha.h are not bound in ptxfmha/_abi.py yet "
                    f"(valid: the package sends struct_size = {ctypes.sizeof(cls)} and the library defaults them)")
    assert [n for n, _ in cls._fields_] == [n for _, n in H_STRUCTS[c_name]]


def test_versioned_prefix_rules(layout):
    """A prefix of a versioned block passes (an older caller); a block missing a member in the
    middle, or one whose last member is cut, does not."""
    sizes, fields, _ = layout
    members = H_STRUCTS["ptxfmha_decode_attn_params"]
    full = _abi.DecodeAttnParams
    prefix = _broken(full, lambda f: f[:-2])                     # as if softcap, reserved were appended later
    assert compare_struct("ptxfmha_decode_attn_params", members, sizes, fields, prefix) == []
    gap = _broken(full, lambda f: [x for x in f if x[0] != "window_left"])
    assert compare_struct("ptxfmha_decode_attn_params", members, sizes, fields, gap) != []
    extra = _broken(full, lambda f: f + [("kv_dtype", ctypes.c_int32)])  # not in the header
    assert compare_struct("ptxfmha_decode_attn_params", members, sizes, fields, extra) != []
    assert compare_struct("ptxfmha_fwd_params", H_STRUCTS["ptxfmha_fwd_params"], sizes, fields,
                          _broken(_abi.FwdParams, lambda f: f[:-1])) != []   # not versioned: no prefix


def test_every_bound_struct_is_in_the_header():
    assert set(_abi.STRUCTS) <= set(H_STRUCTS)


def _broken(base, edit):
    fields = list(base._fields_)
    fields = edit(fields)
    return type("Broken", (ctypes.Structure,), {"_fields_": fields})


def _swap(fields, a, b):
    i, j = [n for n, _ in fields].index(a), [n for n, _ in fields].index(b)
    fields[i], fields[j] = fields[j], fields[i]
    return fields


def _retype(fields, name, t):
    return [(n, t if n == name else ft) for n, ft in fields]


@pytest.mark.parametrize("edit", [
    lambda f: _swap(f, "seqlen_q", "seqlen_k"),                 # reordered members
    lambda f: _retype(f, "causal", ctypes.c_int64),             # resized member
    lambda f: [x for x in f if x[0] != "stream"],               # missing member
    lambda f: _retype(f, "softmax_scale", ctypes.c_int32),      # same size, wrong kind
    lambda f: _retype(f, "q_seq_stride", ctypes.c_int32),       # narrowed stride
], ids=["reordered", "resized", "missing", "mistyped", "narrowed"])
def test_comparator_catches_a_broken_mirror(edit, layout):
    sizes, fields, _ = layout
    broken = _broken(_abi.FwdParams, edit)
    assert compare_struct("ptxfmha_fwd_params", H_STRUCTS["ptxfmha_fwd_params"], sizes, fields, broken) != []


def test_status_enum_matches_header(layout):
    _, _, values = layout
    assert values == H_ENUMS  # the parser read what the compiler sees
    py = {f"PTXFMHA_{s.name}": int(s) for s in _abi.Status}
    assert py == H_ENUMS


def test_every_error_status_maps_to_one_exception_class():
    for s in _abi.Status:
        if s == _abi.Status.OK:
            assert s not in STATUS_CLASS
            continue
        assert STATUS_CLASS[s] in (ArgumentError, DeviceError), s
    device = {s.name for s, c in STATUS_CLASS.items() if c is DeviceError}
    assert device == {"ERR_NO_DRIVER", "ERR_NO_DEVICE", "ERR_UNSUPPORTED_ARCH", "ERR_CUBIN_MISSING",
                      "ERR_CUBIN_WRONG_ARCH", "ERR_CUBIN_INVALID", "ERR_CUDA"}


@pytest.mark.parametrize("name", sorted(H_PROTOS))
def test_prototype_matches_header(name):
    funcs = {f.name: f for f in _abi.FUNCTIONS}
    if name not in funcs:
        pytest.skip(f"{name} is in ptxfmha.h but not bound in ptxfmha/_abi.py yet")
    f = funcs[name]
    ret, params = H_PROTOS[name]
    assert c_header.norm_type(f.c_restype) == ret
    assert [c_header.norm_type(t) for t in f.c_argtypes] == params
    if ret != "void":
        assert ctype_matches(ret, f.restype) or (ret == "const char*" and f.restype is ctypes.c_char_p)
    else:
        assert f.restype is None
    for c_type, t in zip(f.c_argtypes, f.argtypes):
        if c_type == "void":
            assert t is None
        else:
            assert ctype_matches(c_header.norm_type(c_type), t), (name, c_type, t)


def test_every_bound_function_is_in_the_header():
    assert {f.name for f in _abi.FUNCTIONS} <= set(H_PROTOS)


def test_loaded_library_exports_every_bound_function(ptxfmha):
    lib = ptxfmha._lib.load()
    for f in _abi.FUNCTIONS:
        assert hasattr(lib, f.name) or not f.required, f.name
        assert ptxfmha._lib.has_function(f.name) or not f.required
