#!/usr/bin/env python3
"""Compare the machine code (SASS) of two sets of cubins kernel by kernel.

    sass_diff.py DIR_A DIR_B      every *.cubin under each folder (recursively)
    sass_diff.py --self-test      checks the normaliser and the comparison on synthetic dumps

Kernels are matched by entry name (the `Function :` line of `cuobjdump -sass`), not by file
name, so a renamed .ptx stub still compares. For each kernel the comparison covers:
  - every instruction line: address, instruction text and both 64-bit encoding words (so the
    scheduling/control bits count too),
  - the `.headerflags` line,
  - the resource usage of `cuobjdump -res-usage` (registers, stack, shared, local, constant).
Not compared (not machine code): the cubin's file name, the fatbin/ELF headers, line-info
comments (`//## File ..., line N`) and anything else outside a function's instruction list.

Prints `kernel | instructions | identical/DIFFERENT` (and MISSING rows), the first differing
line of each different kernel, and exits 1 on any difference or missing kernel, 2 on a usage
error or a tool failure. tools/sass-diff.sh builds two git revisions and calls this.
"""
import os
import re
import shutil
import subprocess
import sys

FUNC_RE = re.compile(r"^\s*Function\s*:\s*(\S+)\s*$")
# /*0a30*/   @!P0 BRA `(.L_x_12) ;   /* 0x0000000000... */
INSN_RE = re.compile(r"^\s*/\*([0-9a-fA-F]{4,})\*/\s+(.*?)\s*;?\s*/\*\s*(0x[0-9a-fA-F]+)\s*\*/\s*$")
ENC_RE = re.compile(r"^\s*/\*\s*(0x[0-9a-fA-F]+)\s*\*/\s*$")
HEADERFLAGS_RE = re.compile(r"^\s*\.headerflags\s+(.*)$")
LINEINFO_RE = re.compile(r"//##.*$")
RES_FUNC_RE = re.compile(r"^\s*Function\s+([^:\s]+)\s*:\s*$")


def find_cuobjdump():
    """cuobjdump as the Makefile finds it: $CUDA/bin, PATH, then .deps/bin of this checkout."""
    env = os.environ.get("CUOBJDUMP")
    if env:
        return env
    cuda = os.environ.get("CUDA", "/usr/local/cuda")
    cands = [os.path.join(cuda, "bin", "cuobjdump"), shutil.which("cuobjdump"),
             os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".deps", "bin",
                          "cuobjdump")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def parse_sass(text):
    """cuobjdump -sass text -> {kernel: [normalised lines]} (instructions and header flags)."""
    funcs = {}
    cur = None
    for raw in text.splitlines():
        line = LINEINFO_RE.sub("", raw).rstrip()
        m = FUNC_RE.match(line)
        if m:
            cur = funcs.setdefault(m.group(1), [])
            continue
        if cur is None or not line.strip():
            continue
        m = INSN_RE.match(line)
        if m:
            text_ = " ".join(m.group(2).split())  # whitespace inside the instruction is layout
            cur.append("%s %s ; %s" % (m.group(1).lower(), text_, m.group(3).lower()))
            continue
        m = ENC_RE.match(line)
        if m:
            cur.append("    %s" % m.group(1).lower())
            continue
        m = HEADERFLAGS_RE.match(line)
        if m:
            cur.append(".headerflags " + m.group(1).strip())
    return funcs


def parse_res_usage(text):
    """cuobjdump -res-usage text -> {kernel: "REG:.. STACK:.. ..."}."""
    res = {}
    cur = None
    for line in text.splitlines():
        m = RES_FUNC_RE.match(line)
        if m:
            cur = m.group(1)
            continue
        if cur is not None and line.strip():
            res[cur] = " ".join(line.split())
            cur = None
    return res


def instruction_count(lines):
    return sum(1 for l in lines if not l.startswith(" ") and not l.startswith("."))


def dump_dir(folder, tool):
    """Every cubin under folder -> ({kernel: lines}, {kernel: res}, {kernel: cubin path}, errors)."""
    funcs, res, where, errors = {}, {}, {}, []
    for dirpath, _, files in sorted(os.walk(folder)):
        for f in sorted(files):
            if not f.endswith(".cubin"):
                continue
            path = os.path.join(dirpath, f)
            outs = []
            for flag in ("-sass", "-res-usage"):
                p = subprocess.run([tool, flag, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   universal_newlines=True)
                if p.returncode != 0:
                    errors.append("%s %s %s exited %d: %s" % (tool, flag, path, p.returncode, p.stdout[:400]))
                outs.append(p.stdout)
            for k, v in parse_sass(outs[0]).items():
                if k in funcs:
                    errors.append("kernel %s appears in %s and %s" % (k, where[k], path))
                funcs[k] = v
                where[k] = path
            res.update(parse_res_usage(outs[1]))
    return funcs, res, where, errors


def compare(a, b, res_a=None, res_b=None, out=sys.stdout):
    """Prints the table; returns the number of kernels that differ or are missing."""
    res_a, res_b = res_a or {}, res_b or {}
    names = sorted(set(a) | set(b))
    rows, notes, bad = [], [], 0
    for k in names:
        if k not in a or k not in b:
            rows.append((k, str(instruction_count(a.get(k) or b.get(k))), "MISSING in %s" % ("A" if k not in a else "B")))
            bad += 1
            continue
        na, nb = instruction_count(a[k]), instruction_count(b[k])
        count = str(na) if na == nb else "%d -> %d" % (na, nb)
        if a[k] == b[k] and res_a.get(k) == res_b.get(k):
            rows.append((k, count, "identical"))
            continue
        bad += 1
        rows.append((k, count, "DIFFERENT"))
        if res_a.get(k) != res_b.get(k):
            notes.append("%s: resources A: %s\n%s  resources B: %s" % (k, res_a.get(k), " " * len(k), res_b.get(k)))
        for i in range(max(len(a[k]), len(b[k]))):
            la = a[k][i] if i < len(a[k]) else "<end>"
            lb = b[k][i] if i < len(b[k]) else "<end>"
            if la != lb:
                notes.append("%s: first difference at line %d\n  A: %s\n  B: %s" % (k, i + 1, la, lb))
                break
    w = max([len("kernel")] + [len(r[0]) for r in rows])
    wc = max([len("instructions")] + [len(r[1]) for r in rows])
    out.write("%s | %s | %s\n" % ("kernel".ljust(w), "instructions".rjust(wc), "SASS"))
    out.write("%s-|-%s-|-%s\n" % ("-" * w, "-" * wc, "-" * 9))
    for r in rows:
        out.write("%s | %s | %s\n" % (r[0].ljust(w), r[1].rjust(wc), r[2]))
    for n in notes:
        out.write(n + "\n")
    out.write("%d kernels, %d identical, %d different or missing\n" % (len(rows), len(rows) - bad, bad))
    return bad


SAMPLE = """
Fatbin elf code:
================
arch = sm_90a
code version = [1,8]
host = linux
compile_size = 64bit

\tcode for sm_90a
\t.target\tsm_90a

\t\tFunction : %(name)s
\t.headerflags\t@"EF_CUDA_ACCELERATORS EF_CUDA_SM90 EF_CUDA_VIRTUAL_SM(EF_CUDA_SM90)"
        /*0000*/                   LDC R1, c[0x0][0x28] ;                            /* 0x00000a00ff017b82 */
                                                                                     /* 0x000fe20000000800 */
%(lineinfo)s
        /*0010*/                   S2R R6, SR_CTAID.X ;                              /* 0x0000000000067919 */
                                                                                     /* 0x000e220000002500 */
        /*0020*/               @P0 IADD3 R2, R6, %(imm)s, RZ ;                        /* 0x0000000106027810 */
                                                                                     /* 0x%(ctrl)s */
        /*0030*/                   EXIT ;                                            /* 0x000000000000794d */
                                                                                     /* 0x000fea0003800000 */
\t\t..........
"""


def self_test():
    """Mutations the comparison must catch, and layout it must ignore."""
    def sass(name="k", imm="0x1", ctrl="000fe20000000000", lineinfo="        //## File \"a.ptxh\", line 3"):
        return parse_sass(SAMPLE % {"name": name, "imm": imm, "ctrl": ctrl, "lineinfo": lineinfo})

    class Null:
        def write(self, _):
            pass

    failures = []

    def expect(what, got_bad, want_bad):
        if (got_bad != 0) != want_bad:
            failures.append("%s: compare() returned %d, expected %s" % (what, got_bad, "a difference" if want_bad else "0"))

    base = sass()
    if instruction_count(base["k"]) != 4:
        failures.append("instruction count %d != 4" % instruction_count(base["k"]))
    expect("identical dumps", compare(base, sass(), out=Null()), False)
    expect("line-info comment added", compare(base, sass(lineinfo="        //## File \"x.ptxh\", line 12"), out=Null()), False)
    expect("one immediate changed", compare(base, sass(imm="0x2"), out=Null()), True)
    expect("control bits changed", compare(base, sass(ctrl="001fe20000000000"), out=Null()), True)
    expect("kernel missing in B", compare(base, {}, out=Null()), True)
    expect("kernel renamed", compare(base, sass(name="k2"), out=Null()), True)
    expect("registers changed", compare(base, sass(), {"k": "REG:52"}, {"k": "REG:54"}, out=Null()), True)
    dropped = {"k": base["k"][:-2]}
    expect("last instruction dropped", compare(base, dropped, out=Null()), True)
    res = parse_res_usage("Resource usage:\n Function k:\n  REG:52 STACK:0 SHARED:0\n")
    if res != {"k": "REG:52 STACK:0 SHARED:0"}:
        failures.append("parse_res_usage: %r" % res)
    for f in failures:
        sys.stdout.write("self-test FAILED: %s\n" % f)
    if not failures:
        sys.stdout.write("sass_diff self-test: 10 checks passed\n")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    tool = find_cuobjdump()
    if tool is None:
        sys.stderr.write("sass_diff: cuobjdump not found ($CUDA/bin, PATH, .deps/bin): run 'make deps'\n")
        return 2
    fa, ra, _, ea = dump_dir(argv[1], tool)
    fb, rb, _, eb = dump_dir(argv[2], tool)
    for e in ea + eb:
        sys.stderr.write("sass_diff: %s\n" % e)
    if ea or eb:
        return 2
    if not fa and not fb:
        sys.stderr.write("sass_diff: no cubins with kernels under %s or %s\n" % (argv[1], argv[2]))
        return 2
    return 1 if compare(fa, fb, ra, rb) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
