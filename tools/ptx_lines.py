#!/usr/bin/env python3
"""Post-preprocessor step of the PTX build: one statement per line, source positions kept.

    ptx_lines.py IN OUT [--loc]
    ptx_lines.py --self-test

IN is the output of `cpp -x assembler-with-cpp` *with* linemarkers (no -P). The C preprocessor
puts each macro expansion on one line, so a macro of 40 instructions becomes one line of
thousands of characters; ptxas errors, Nsight Compute's source view and compute-sanitizer
reports then point at that line. This step writes the same token stream with
  - one instruction, directive or label per line (a statement ends at ';'; labels `NAME:` at
    the start of a statement get their own line at column 0; `.shared::cta` and other `::`
    are not labels),
  - instructions indented by 4, the mnemonic (after an optional `@pred` guard) in a 16-wide
    column, whitespace inside a statement collapsed to single spaces,
  - statements longer than WRAP characters wrapped after a comma (vector operands such as
    the 128 registers of a wgmma accumulator), continuation lines under the operands,
  - a `// <file>` comment line wherever the statements start coming from another source file,
  - with --loc: `.file` directives (after `.address_size`) for every source file and a
    `.loc FILE LINE 0` before each instruction whose source position changed, the position
    being the line of the macro *invocation* (cpp keeps no position inside a macro body).
Nothing else changes: the statements and their order are those of cpp's output (the SASS of
a kernel is identical with and without this step; tools/sass-diff.sh checks it).
"""
import os
import re
import sys

WRAP = 120
MNEMONIC_COL = 16
MARKER_RE = re.compile(r'^#\s*(\d+)\s+"((?:[^"\\]|\\.)*)"((?:\s+\d+)*)\s*$')
LABEL_RE = re.compile(r"^([A-Za-z_$][A-Za-z0-9_$]*)\s*:(?!:)")
NO_SEMICOLON_DIRECTIVES = (".version", ".target", ".address_size", ".maxntid", ".reqntid",
                           ".minnctapersm", ".maxnreg", ".maxnctapersm", ".pragma", ".visible", ".entry",
                           ".func", ".param", ".weak", ".extern")


class Stmt:
    __slots__ = ("kind", "text", "file", "line")

    def __init__(self, kind, text, file, line):
        self.kind, self.text, self.file, self.line = kind, text, file, line


def split_statements(lines):
    """cpp output lines -> [Stmt] with kind in {blank, label, open, close, directive, insn}."""
    out = []
    cur_file, cur_line = None, 0
    buf, buf_pos = "", None

    def flush_buf(kind=None):
        nonlocal buf, buf_pos
        t = " ".join(buf.split())
        if t:
            k = kind or ("directive" if t.startswith(".") or t == ")" else "insn")
            out.append(Stmt(k, t, buf_pos[0], buf_pos[1]))
        buf, buf_pos = "", None

    for raw in lines:
        m = MARKER_RE.match(raw)
        if m:
            # relative includes give paths like ptx/sm90a/../body/x.ptxh: name the file plainly
            cur_file = m.group(2) if m.group(2).startswith("<") else os.path.normpath(m.group(2))
            cur_line = int(m.group(1))
            continue
        line = raw.rstrip("\n")
        pos = (cur_file, cur_line)
        cur_line += 1
        if not line.strip():
            if not buf:
                out.append(Stmt("blank", "", pos[0], pos[1]))
            continue
        i, n = 0, len(line)
        while i < n:
            if not buf.strip():
                # start of a statement: label, block brace, or the statement's first token
                rest = line[i:].lstrip()
                i = n - len(rest)
                if not rest:
                    break
                lm = LABEL_RE.match(rest)
                if lm:
                    out.append(Stmt("label", lm.group(1) + ":", pos[0], pos[1]))
                    i += lm.end()
                    continue
                if rest[0] in "{}" and not rest[1:2].strip(" ").startswith("%"):
                    out.append(Stmt("open" if rest[0] == "{" else "close", rest[0], pos[0], pos[1]))
                    i += 1
                    continue
                buf_pos = pos
            c = line[i]
            if c == '"':
                j = line.find('"', i + 1)
                j = n - 1 if j < 0 else j
                buf += line[i:j + 1]
                i = j + 1
                continue
            buf += c
            i += 1
            if c == ";":
                flush_buf()
        # end of the input line: a directive without ';' ends here; an instruction goes on
        if buf.strip():
            first = buf.split()[0]
            if first.startswith(NO_SEMICOLON_DIRECTIVES) or first in (")", "("):
                flush_buf("directive")
            else:
                buf += " "
    if buf.strip():
        flush_buf()
    return out


def wrap(prefix, operands, cont_indent):
    """prefix + operands, wrapped after commas so that no line exceeds WRAP characters."""
    if len(prefix) + len(operands) <= WRAP:
        return [prefix + operands]
    parts = operands.split(", ")
    lines, cur = [], prefix
    for k, p in enumerate(parts):
        piece = p + (", " if k + 1 < len(parts) else "")
        if len(cur) + len(piece.rstrip()) > WRAP and cur.strip() and cur != prefix:
            lines.append(cur.rstrip())
            cur = cont_indent
        cur += piece
    lines.append(cur.rstrip())
    return lines


def format_insn(text, indent="    "):
    toks = text.split(" ", 1)
    guard = ""
    if toks[0].startswith("@"):
        guard = toks[0] + " "
        toks = toks[1].split(" ", 1) if len(toks) > 1 else [""]
    mnemonic = toks[0]
    operands = toks[1] if len(toks) > 1 else ""
    if not operands:
        return [indent + guard + mnemonic]
    if guard:
        prefix = indent + guard + mnemonic + " "
    else:
        prefix = indent + mnemonic.ljust(MNEMONIC_COL - 1) + " "
    return wrap(prefix, operands, " " * len(prefix))


def render(stmts, loc):
    files = []
    for s in stmts:
        if s.kind != "blank" and s.file and not s.file.startswith("<") and s.file not in files:
            files.append(s.file)
    index = {f: k + 1 for k, f in enumerate(files)}
    out = []
    depth = 0              # block braces (the kernel body and nested scopes)
    last_loc = None
    last_src = None
    pending_blank = False
    file_directives_done = not loc
    for s in stmts:
        if s.kind == "blank":
            pending_blank = bool(out)
            continue
        if s.file != last_src and s.file and not s.file.startswith("<"):
            # the statements of another source file start here: say which
            if out and out[-1] != "":
                out.append("")
            out.append("    " * depth + "// " + s.file)
            last_src = s.file
            pending_blank = False
        if pending_blank and out and out[-1] != "":
            out.append("")
        pending_blank = False
        if s.kind == "label":
            out.append(s.text)
        elif s.kind == "open":
            out.append("    " * depth + "{")
            depth += 1
        elif s.kind == "close":
            depth = max(0, depth - 1)
            out.append("    " * depth + "}")
        elif s.kind == "directive" or s.text.startswith("."):
            ind = "    " * depth
            if s.text.startswith(".param") and depth == 0:
                ind = "    "
            out.extend(wrap(ind, s.text, ind + "    "))
            if not file_directives_done and s.text.startswith(".address_size"):
                for f in files:
                    out.append('.file %d "%s"' % (index[f], f))
                file_directives_done = True
        else:
            if loc and depth > 0 and s.file in index and (s.file, s.line) != last_loc:
                out.append("    .loc %d %d 0" % (index[s.file], s.line))
                last_loc = (s.file, s.line)
            out.extend(format_insn(s.text, "    " * max(depth, 1)))
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def tokens(text):
    """The PTX token stream, for the self-test: whitespace and // comments dropped."""
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"^\s*\.(loc|file)\b[^\n]*$", " ", text, flags=re.M)
    return re.findall(r'"[^"]*"|[A-Za-z_$%.][A-Za-z0-9_$.:%<>]*|0[fFdDxX][0-9a-fA-F]+|\d+|::|\S', text)


SELF_TEST_IN = '''# 1 "k.ptx"
.version 8.7
.target sm_90a
.address_size 64
.visible .entry k(
    .param .align 64 .b8 p[640]
)
.maxntid 128, 1, 1
{
    .reg .b32 %r<4>; .reg .pred %p;
# 1 "body.ptxh" 1
START: mov.u32 %r0, 1; W: mbarrier.try_wait.parity.shared::cta.b64 %p, [%r0], %r1; @!%p bra W; ld.shared.v4.u32 {%r0, %r1, %r2, %r3}, [%r0+16];
    cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes
        [%r0], [%rd0, {0, %r1, %r2, %r3}], [%r1];
    wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {%o0, %o1, %o2, %o3, %o4, %o5, %o6, %o7, %o8, %o9, %o10, %o11, %o12, %o13, %o14, %o15, %o16, %o17, %o18, %o19, %o20, %o21}, %d0, %d1, %p, 1, 1, 0, 0;
# 12 "k.ptx" 2
    ret;
}
'''


def self_test():
    fails = []
    for loc in (False, True):
        stmts = split_statements(SELF_TEST_IN.splitlines(True))
        got = render(stmts, loc)
        if tokens(got) != tokens("\n".join(l for l in SELF_TEST_IN.splitlines() if not l.startswith("#"))):
            fails.append("loc=%s: token stream changed:\n%s" % (loc, got))
        longest = max(len(l) for l in got.splitlines())
        if longest > WRAP:
            fails.append("loc=%s: a line of %d characters" % (loc, longest))
        lines = got.splitlines()
        for want in ("START:", "W:", "    @!%p bra W;"):
            if want not in lines:
                fails.append("loc=%s: no line %r in:\n%s" % (loc, want, got))
        if not any(l.strip().startswith("mbarrier.try_wait.parity.shared::cta.b64") for l in lines):
            fails.append("loc=%s: '.shared::cta' split as a label" % loc)
        if loc:
            if '.file 2 "body.ptxh"' not in lines or "    .loc 2 1 0" not in lines:
                fails.append("loc=True: .file/.loc missing:\n%s" % got)
            if lines.index('.file 1 "k.ptx"') < lines.index(".address_size 64"):
                fails.append("loc=True: .file before .address_size")
    for f in fails:
        sys.stdout.write("ptx_lines self-test FAILED: %s\n" % f)
    if not fails:
        sys.stdout.write("ptx_lines self-test passed\n")
    return 1 if fails else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 2 or any(a not in ("--loc",) for a in argv[1:] if a.startswith("--")):
        sys.stderr.write(__doc__)
        return 2
    with open(args[0]) as f:
        stmts = split_statements(f.readlines())
    text = render(stmts, "--loc" in argv)
    with open(args[1], "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
