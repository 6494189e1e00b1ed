"""Reads the C ABI out of ptxfmha.h for the tests: structs (member types and names in order),
enums (enumerator values) and exported prototypes (PTXFMHA_API ...), plus a compiled program
that prints every struct's size, alignment and member offsets/sizes as the C compiler lays
them out. Only what the header uses is understood: typedef'd structs of scalar and pointer
members (comma lists allowed, fixed arrays too), typedef'd enums with explicit values."""

import re
import shutil
import subprocess
from pathlib import Path


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def norm_type(t):
    t = re.sub(r"\s+", " ", t).strip()
    t = re.sub(r"\s*\*\s*", "*", t)
    return t


def _split_decl(decl):
    """'int64_t a, b' -> [('int64_t', 'a'), ('int64_t', 'b')]; 'const void* q' ->
    [('const void*', 'q')]; 'int32_t x[4]' -> [('int32_t[4]', 'x')]."""
    parts = [p.strip() for p in decl.split(",")]
    m = re.match(r"^(.*?)([A-Za-z_]\w*)\s*(\[\s*\d+\s*\])?$", parts[0], flags=re.S)
    if not m:
        raise ValueError(f"cannot parse declaration {decl!r}")
    base = norm_type(m.group(1))
    base_noptr = base.rstrip("*")
    out = [(base + (m.group(3) or "").replace(" ", ""), m.group(2))]
    for p in parts[1:]:
        m2 = re.match(r"^(\**)\s*([A-Za-z_]\w*)\s*(\[\s*\d+\s*\])?$", p)
        if not m2:
            raise ValueError(f"cannot parse declarator {p!r} in {decl!r}")
        out.append((base_noptr + m2.group(1) + (m2.group(3) or "").replace(" ", ""), m2.group(2)))
    return out


def structs(text):
    """{typedef name: [(c type, member name), ...]} for every `typedef struct X {...} X;`."""
    text = strip_comments(text)
    out = {}
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", text, flags=re.S):
        members = []
        for decl in m.group(2).split(";"):
            decl = decl.strip()
            if decl:
                members.extend(_split_decl(decl))
        out[m.group(3)] = members
    return out


def enums(text):
    """{enumerator: value} of every `typedef enum X {...} X;` (explicit values only)."""
    text = strip_comments(text)
    out = {}
    for m in re.finditer(r"typedef\s+enum\s+\w+\s*\{(.*?)\}\s*\w+\s*;", text, flags=re.S):
        for item in m.group(1).split(","):
            item = item.strip()
            if not item:
                continue
            m2 = re.match(r"^(\w+)\s*=\s*(-?\d+)$", item)
            if not m2:
                raise ValueError(f"enumerator without an explicit value: {item!r}")
            out[m2.group(1)] = int(m2.group(2))
    return out


def prototypes(text):
    """{function: (return c type, [parameter c types])} of every `PTXFMHA_API ret name(...);`."""
    text = strip_comments(text)
    out = {}
    for m in re.finditer(r"PTXFMHA_API\s+([\w\s\*]+?)\s*\b(ptxfmha_\w+)\s*\(([^)]*)\)\s*;", text, flags=re.S):
        params = []
        for p in m.group(3).split(","):
            p = norm_type(p)
            if p == "void":
                params.append("void")
                continue
            m2 = re.match(r"^(.*?[\s\*])([A-Za-z_]\w*)$", p)
            params.append(norm_type(m2.group(1)) if m2 else p)
        out[m.group(2)] = (norm_type(m.group(1)), params)
    return out


def compiled_layout(header, struct_members, enum_names, workdir):
    """Compiles and runs a C program against `header`; returns (sizes {struct: (size, align)},
    fields {(struct, member): (offset, size)}, enum values {name: value}). Raises
    FileNotFoundError when there is no C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise FileNotFoundError("no C compiler (cc/gcc/clang) on PATH")
    header = Path(header)
    include_dir = header.parent.parent  # .../include for "ptxfmha/ptxfmha.h"
    lines = [
        "#include <stddef.h>",
        "#include <stdio.h>",
        f'#include "{header.parent.name}/{header.name}"',
        "int main(void) {",
    ]
    for s, members in struct_members.items():
        lines.append(f'  printf("struct {s} %zu %zu\\n", sizeof({s}), (size_t)_Alignof({s}));')
        for _, name in members:
            lines.append(f'  printf("field {s} {name} %zu %zu\\n", offsetof({s}, {name}), '
                         f"sizeof((({s}*)0)->{name}));")
    for e in enum_names:
        lines.append(f'  printf("enum {e} %d\\n", (int){e});')
    lines += ["  return 0;", "}"]
    src = Path(workdir) / "abi_layout.c"
    exe = Path(workdir) / "abi_layout"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", str(include_dir), str(src), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    run = subprocess.run([str(exe)], check=True, capture_output=True, text=True)
    sizes, fields, values = {}, {}, {}
    for line in run.stdout.splitlines():
        tok = line.split()
        if tok[0] == "struct":
            sizes[tok[1]] = (int(tok[2]), int(tok[3]))
        elif tok[0] == "field":
            fields[(tok[1], tok[2])] = (int(tok[3]), int(tok[4]))
        elif tok[0] == "enum":
            values[tok[1]] = int(tok[2])
    return sizes, fields, values
