// Helpers of the CPU tests that tie the .ptx sources, the build outputs (preprocessed PTX,
// cubins, ptxas -v reports, SASS) and the host kernel table together.
#pragma once
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "gpu_util.h"
#include "kernel_table.h"

namespace ptxfmha_test {

// ---- sources and build outputs ---------------------------------------------------------
struct PtxSource {
  std::string arch;  // folder under ptx/: "sm90a", "sm100a"
  std::string name;  // file stem == entry symbol == cubin name
  std::string path;  // <source dir>/ptx/<arch>/<name>.ptx
};

// Every ptx/<arch>/*.ptx (every folder of ptx/ except include/), sorted.
inline std::vector<PtxSource> ptx_sources() {
  namespace fs = std::filesystem;
  std::vector<PtxSource> out;
  const fs::path root = fs::path(source_dir()) / "ptx";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& dir : fs::directory_iterator(root)) {
    if (!dir.is_directory() || dir.path().filename() == "include") continue;
    for (const auto& f : fs::directory_iterator(dir.path())) {
      if (f.is_regular_file() && f.path().extension() == ".ptx")
        out.push_back({dir.path().filename().string(), f.path().stem().string(), f.path().string()});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const PtxSource& a, const PtxSource& b) { return a.path < b.path; });
  return out;
}

inline std::string preprocessed_path(const std::string& arch, const std::string& name) {
  return build_dir() + "/ptx/" + arch + "/" + name + ".ptx";
}
inline std::string cubin_file(const std::string& arch, const std::string& name) {
  return build_dir() + "/cubin/" + arch + "/" + name + ".cubin";
}
inline std::string ptxas_report_path(const std::string& arch, const std::string& name) {
  return build_dir() + "/cubin/" + arch + "/" + name + ".ptxas.txt";
}
// ptxas -arch of a kernel folder (the Makefile's ptxas_target_<arch>).
inline std::string ptxas_target(const std::string& arch) {
  if (arch == "sm90a") return "sm_90a";
  if (arch == "sm100a") return "sm_100a";
  return "";
}
// Compute capability (major*10+minor) of the devices a kernel folder runs on.
inline int sm_of_arch(const std::string& arch) {
  if (arch == "sm90a") return 90;
  if (arch == "sm100a") return 100;
  return 0;
}

inline const ptxfmha::KernelInfo* find_row(const std::string& name) {
  for (const ptxfmha::KernelInfo* r : ptxfmha::all_kernels())
    if (name == r->name) return r;
  return nullptr;
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

// The lines of a text (without their '\n'; a last line without one counts).
inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return lines;
}

// ---- C preprocessor macros of a .ptx (the Makefile's preprocessor flags) -----------------------
// The flags of the Makefile's PTX_CPP (without the output options).
inline std::string ptx_cpp_flags() {
  return "-x assembler-with-cpp -undef -nostdinc -I" + shell_quote(source_dir() + "/ptx/include");
}

// Object-like macros defined at the end of a .ptx, each with its value *as the preprocessor
// expands it there*: name -> expansion text. The KERNEL_* facts come out of a manifest row through
// function-like macros (ptx/manifest/), so their definitions (`cpp -dM`) are not numbers; cpp
// itself expands every name here (a second pass over the file with one stringised line per
// macro appended). *ok false when cpp failed (*err has why).
inline std::map<std::string, std::string> cpp_macros(const std::string& path, bool* ok, std::string* err) {
  std::map<std::string, std::string> m;
  const std::string flags = ptx_cpp_flags();
  const std::string cmd = "cpp " + flags + " -dM " + shell_quote(path) + " 2>&1";
  int rc = 0;
  const std::string out = run_command(cmd, &rc);
  *ok = (rc == 0);
  if (rc != 0) {
    *err = "`" + cmd + "` exited " + std::to_string(rc) + ": " + out;
    return m;
  }
  // (The lines are split by hand: std::regex recurses per character, and a long expansion such
  // as the d256 e4m3 rows' Q_E4M3_TILES_STORE overflows the stack.)
  auto ident_at = [](const std::string& line, std::size_t at) {
    std::size_t end = at;
    while (end < line.size() && (std::isalnum(static_cast<unsigned char>(line[end])) || line[end] == '_')) ++end;
    const bool ok = end > at && !std::isdigit(static_cast<unsigned char>(line[at]));
    return ok ? line.substr(at, end - at) : std::string();
  };
  std::vector<std::string> names;
  for (const std::string& line : split_lines(out)) {
    if (line.rfind("#define", 0) != 0 || line.size() < 8 || (line[7] != ' ' && line[7] != '\t')) continue;
    std::size_t at = 7;
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    const std::string name = ident_at(line, at);
    const std::size_t after = at + name.size();
    // an object-like macro: the name ends the line or a blank follows it (not `(`)
    if (!name.empty() && (after == line.size() || line[after] == ' ' || line[after] == '\t') &&
        name.rfind("__", 0) != 0)
      names.push_back(name);
  }
  // Second pass: the file, then `@@ptxfmha_fact "NAME" = <expansion of NAME>` for every name.
  std::string tail = "#define PTXFMHA_TEST_FACT(n) @@ptxfmha_fact #n = n\n";
  for (const std::string& n : names) tail += "PTXFMHA_TEST_FACT(" + n + ")\n";
  const std::string cmd2 = "printf '%s' " + shell_quote(tail) + " | cpp " + flags + " -P -include " +
                           shell_quote(path) + " - 2>&1";
  const std::string out2 = run_command(cmd2, &rc);
  if (rc != 0) {
    *ok = false;
    *err = "`cpp -include " + path + "` (macro expansion pass) exited " + std::to_string(rc) + ": " +
           out2.substr(0, 2000);
    return m;
  }
  const std::string fact = "@@ptxfmha_fact \"";
  for (const std::string& line : split_lines(out2)) {
    if (line.rfind(fact, 0) != 0) continue;
    const std::string name = ident_at(line, fact.size());
    std::size_t at = fact.size() + name.size();
    if (name.empty() || line.compare(at, 3, "\" =") != 0) continue;
    at += 3;
    if (at < line.size() && line[at] == ' ') ++at;
    m[name] = line.substr(at);
  }
  if (m.size() != names.size()) {
    *ok = false;
    *err = path + ": " + std::to_string(names.size()) + " macros defined but " + std::to_string(m.size()) +
           " expanded";
  }
  return m;
}

// Integer constant expression evaluator for macro values: decimal/hex literals (u/l suffixes),
// identifiers expanded through `macros`, the C operators of the layout headers (+ - * / % << >>
// & | ^ ~ ! == != < <= > >= && || ?:) with C precedence, and parentheses. Values are 64-bit:
// a literal is read as unsigned 64-bit (so 0x8000000000000000, the top bit of a wgmma
// descriptor's swizzle field, reads as the bit pattern PTX's .b64 arithmetic means), and + - *
// << wrap around modulo 2^64; comparisons, / % and >> see the two's-complement signed value.
class IntExpr {
 public:
  IntExpr(const std::map<std::string, std::string>& macros) : macros_(macros) {}

  bool eval(const std::string& expr, long long* out, std::string* err) {
    depth_ = 0;
    return eval_nested(expr, out, err);
  }

 private:
  bool eval_nested(const std::string& expr, long long* out, std::string* err) {
    if (++depth_ > 64) { *err = "macro expansion too deep"; return false; }
    const std::string saved_s = s_;
    const std::size_t saved_i = i_;
    s_ = expr;
    i_ = 0;
    bool ok = parse_cond(out, err);
    skip_ws();
    if (ok && i_ != s_.size()) { *err = "unexpected '" + s_.substr(i_) + "' in '" + expr + "'"; ok = false; }
    s_ = saved_s;
    i_ = saved_i;
    --depth_;
    return ok;
  }
  void skip_ws() { while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_; }
  bool peek(const char* tok) {
    skip_ws();
    return s_.compare(i_, std::strlen(tok), tok) == 0;
  }
  bool eat(const char* tok) {
    skip_ws();
    const std::size_t n = std::strlen(tok);
    if (s_.compare(i_, n, tok) != 0) return false;
    // do not take "<" of "<<" or "<=", "!" of "!=" etc.
    if (n == 1 && (tok[0] == '<' || tok[0] == '>') && i_ + 1 < s_.size() && (s_[i_ + 1] == tok[0] || s_[i_ + 1] == '='))
      return false;
    if (n == 1 && tok[0] == '!' && i_ + 1 < s_.size() && s_[i_ + 1] == '=') return false;
    i_ += n;
    return true;
  }
  // c ? a : b (both branches are parsed; only the chosen one is the value)
  bool parse_cond(long long* v, std::string* e) {
    if (!parse_lor(v, e)) return false;
    if (!eat("?")) return true;
    long long a = 0, b = 0;
    if (!parse_cond(&a, e)) return false;
    if (!eat(":")) { *e = "missing ':' in '" + s_ + "'"; return false; }
    if (!parse_cond(&b, e)) return false;
    *v = *v ? a : b;
    return true;
  }
  bool parse_lor(long long* v, std::string* e) {
    if (!parse_land(v, e)) return false;
    for (long long r; eat("||");) { if (!parse_land(&r, e)) return false; *v = (*v || r); }
    return true;
  }
  bool parse_land(long long* v, std::string* e) {
    if (!parse_or(v, e)) return false;
    for (long long r; eat("&&");) { if (!parse_or(&r, e)) return false; *v = (*v && r); }
    return true;
  }
  bool parse_or(long long* v, std::string* e) {
    if (!parse_xor(v, e)) return false;
    for (long long r; !peek("||") && eat("|");) { if (!parse_xor(&r, e)) return false; *v |= r; }
    return true;
  }
  bool parse_xor(long long* v, std::string* e) {
    if (!parse_and(v, e)) return false;
    for (long long r; eat("^");) { if (!parse_and(&r, e)) return false; *v ^= r; }
    return true;
  }
  bool parse_and(long long* v, std::string* e) {
    if (!parse_eq(v, e)) return false;
    for (long long r; !peek("&&") && eat("&");) { if (!parse_eq(&r, e)) return false; *v &= r; }
    return true;
  }
  bool parse_eq(long long* v, std::string* e) {
    if (!parse_rel(v, e)) return false;
    for (long long r;;) {
      if (eat("==")) { if (!parse_rel(&r, e)) return false; *v = (*v == r); }
      else if (eat("!=")) { if (!parse_rel(&r, e)) return false; *v = (*v != r); }
      else return true;
    }
  }
  bool parse_rel(long long* v, std::string* e) {
    if (!parse_shift(v, e)) return false;
    for (long long r;;) {
      if (eat("<=")) { if (!parse_shift(&r, e)) return false; *v = (*v <= r); }
      else if (eat(">=")) { if (!parse_shift(&r, e)) return false; *v = (*v >= r); }
      else if (!peek("<<") && eat("<")) { if (!parse_shift(&r, e)) return false; *v = (*v < r); }
      else if (!peek(">>") && eat(">")) { if (!parse_shift(&r, e)) return false; *v = (*v > r); }
      else return true;
    }
  }
  bool parse_shift(long long* v, std::string* e) {
    if (!parse_add(v, e)) return false;
    for (long long r;;) {
      if (eat("<<")) { if (!parse_add(&r, e)) return false; *v = wrap(uint64_t(*v) << (r & 63)); }
      else if (eat(">>")) { if (!parse_add(&r, e)) return false; *v >>= r; }
      else return true;
    }
  }
  bool parse_add(long long* v, std::string* e) {
    if (!parse_mul(v, e)) return false;
    for (long long r;;) {
      if (eat("+")) { if (!parse_mul(&r, e)) return false; *v = wrap(uint64_t(*v) + uint64_t(r)); }
      else if (eat("-")) { if (!parse_mul(&r, e)) return false; *v = wrap(uint64_t(*v) - uint64_t(r)); }
      else return true;
    }
  }
  bool parse_mul(long long* v, std::string* e) {
    if (!parse_unary(v, e)) return false;
    for (long long r;;) {
      if (eat("*")) { if (!parse_unary(&r, e)) return false; *v = wrap(uint64_t(*v) * uint64_t(r)); }
      else if (eat("/") || eat("%")) {
        const char op = s_[i_ - 1];
        if (!parse_unary(&r, e)) return false;
        if (r == 0) { *e = "division by zero"; return false; }
        if (r == -1) { *v = op == '/' ? wrap(0 - uint64_t(*v)) : 0; continue; }  // no INT64_MIN / -1 trap
        *v = (op == '/') ? *v / r : *v % r;
      } else return true;
    }
  }
  bool parse_unary(long long* v, std::string* e) {
    if (eat("-")) { if (!parse_unary(v, e)) return false; *v = wrap(0 - uint64_t(*v)); return true; }
    if (eat("+")) return parse_unary(v, e);
    if (eat("~")) { if (!parse_unary(v, e)) return false; *v = ~*v; return true; }
    if (eat("!")) { if (!parse_unary(v, e)) return false; *v = !*v; return true; }
    if (eat("(")) {
      if (!parse_cond(v, e)) return false;
      if (!eat(")")) { *e = "missing ')'"; return false; }
      return true;
    }
    skip_ws();
    if (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      std::size_t used = 0;
      try {
        *v = wrap(std::stoull(s_.substr(i_), &used, 0));
      } catch (...) {
        *e = "bad number at '" + s_.substr(i_) + "'";
        return false;
      }
      i_ += used;
      while (i_ < s_.size() && (s_[i_] == 'u' || s_[i_] == 'U' || s_[i_] == 'l' || s_[i_] == 'L')) ++i_;
      return true;
    }
    if (i_ < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) {
      std::size_t j = i_;
      while (j < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[j])) || s_[j] == '_')) ++j;
      const std::string id = s_.substr(i_, j - i_);
      i_ = j;
      auto it = macros_.find(id);
      if (it == macros_.end()) { *e = "undefined identifier '" + id + "'"; return false; }
      return eval_nested(it->second, v, e);
    }
    *e = "unexpected end of expression '" + s_ + "'";
    return false;
  }

  // the two's-complement signed value of a 64-bit pattern (a conversion, not an overflow)
  static long long wrap(uint64_t u) {
    long long v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  }

  const std::map<std::string, std::string>& macros_;
  std::string s_;
  std::size_t i_ = 0;
  int depth_ = 0;
};

// ---- the entry declaration of a preprocessed .ptx ---------------------------------------------
struct PtxParam {
  int align = 0;         // .align N, 0 if none
  std::string type;      // b8, u64, ...
  std::string name;
  long long array = -1;  // [N], -1 if not an array
};
struct PtxEntry {
  bool found = false;
  int entries = 0;                 // number of .entry in the file
  std::vector<PtxParam> params;
  bool has_maxntid = false, has_reqntid = false;
  long long maxntid[3] = {1, 1, 1}, reqntid[3] = {1, 1, 1};
};

// Parses `.entry <name>( params ) <directives> {` of preprocessed PTX.
inline PtxEntry parse_entry(const std::string& text, const std::string& name) {
  PtxEntry e;
  static const std::regex entry_re(R"(\.entry\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*\()");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), entry_re); it != std::sregex_iterator(); ++it) {
    ++e.entries;
    if ((*it)[1].str() != name) continue;
    e.found = true;
    const std::size_t open = static_cast<std::size_t>(it->position(0) + it->length(0));
    const std::size_t close = text.find(')', open);
    const std::size_t body = text.find('{', close == std::string::npos ? open : close);
    if (close == std::string::npos || body == std::string::npos) return e;
    const std::string plist = text.substr(open, close - open);
    static const std::regex param_re(
        R"(\.param\s+(?:\.align\s+(\d+)\s+)?\.([a-z0-9]+)\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*(?:\[\s*(\d+)\s*\])?)");
    for (auto p = std::sregex_iterator(plist.begin(), plist.end(), param_re); p != std::sregex_iterator(); ++p) {
      PtxParam pp;
      pp.align = (*p)[1].matched ? std::atoi((*p)[1].str().c_str()) : 0;
      pp.type = (*p)[2].str();
      pp.name = (*p)[3].str();
      pp.array = (*p)[4].matched ? std::atoll((*p)[4].str().c_str()) : -1;
      e.params.push_back(pp);
    }
    const std::string dirs = text.substr(close + 1, body - close - 1);
    static const std::regex ntid_re(R"(\.(maxntid|reqntid)\s+(\d+)(?:\s*,\s*(\d+))?(?:\s*,\s*(\d+))?)");
    for (auto d = std::sregex_iterator(dirs.begin(), dirs.end(), ntid_re); d != std::sregex_iterator(); ++d) {
      long long* dst = (*d)[1].str() == "maxntid" ? e.maxntid : e.reqntid;
      ((*d)[1].str() == "maxntid" ? e.has_maxntid : e.has_reqntid) = true;
      for (int k = 0; k < 3; ++k) dst[k] = (*d)[k + 2].matched ? std::atoll((*d)[k + 2].str().c_str()) : 1;
    }
  }
  return e;
}

// ---- ptxas -v report -----------------------------------------------------------------------
struct PtxasReport {
  bool read = false;
  std::vector<std::string> entries;  // "Compiling entry function 'X' for 'sm_90a'"
  std::vector<std::string> targets;
  long long registers = -1, stack_frame = -1, spill_stores = -1, spill_loads = -1;
  long long static_smem = 0;         // "N bytes smem" (0 when absent)
  std::vector<std::string> problems; // warnings / errors lines
};

inline PtxasReport parse_ptxas_report(const std::string& text) {
  PtxasReport r;
  r.read = true;
  std::smatch m;
  static const std::regex entry_re(R"(Compiling entry function '([^']+)' for '([^']+)')");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), entry_re); it != std::sregex_iterator(); ++it) {
    r.entries.push_back((*it)[1].str());
    r.targets.push_back((*it)[2].str());
  }
  static const std::regex frame_re(R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  if (std::regex_search(text, m, frame_re)) {
    r.stack_frame = std::atoll(m[1].str().c_str());
    r.spill_stores = std::atoll(m[2].str().c_str());
    r.spill_loads = std::atoll(m[3].str().c_str());
  }
  static const std::regex regs_re(R"(Used (\d+) registers)");
  if (std::regex_search(text, m, regs_re)) r.registers = std::atoll(m[1].str().c_str());
  static const std::regex smem_re(R"((\d+) bytes smem)");
  if (std::regex_search(text, m, smem_re)) r.static_smem = std::atoll(m[1].str().c_str());
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    const std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    std::string low = line;
    std::transform(low.begin(), low.end(), low.begin(), [](unsigned char c) { return std::tolower(c); });
    // "ptxas info : (C7513) Potential Performance Loss: wgmma.mma_async instructions are
    // serialized ..." is printed as info, but it means every wgmma waits for the previous one.
    if (low.find("warning") != std::string::npos || low.find("error") != std::string::npos ||
        low.find("performance loss") != std::string::npos)
      r.problems.push_back(line);
  }
  return r;
}

// ---- SASS (cuobjdump -sass) ------------------------------------------------------------------
struct SassFunction {
  std::string name;
  std::map<std::string, long long> opcodes;  // base opcode ("HGMMA", "LDL") -> count
  std::map<std::string, std::string> first_line;  // base opcode -> first instruction line
};

// `cuobjdump -sass` of the cubin of kernel `name` (folder `arch`); fails the current test case
// when the cubin is missing (run make) or the tool fails.
inline std::string cubin_sass(const std::string& objdump, const std::string& arch, const std::string& name) {
  const std::string cubin = cubin_file(arch, name);
  REQUIRE_MESSAGE(file_exists(cubin), "missing cubin " << cubin << " (run make)");
  int rc = 0;
  const std::string sass = run_command(shell_quote(objdump) + " -sass " + shell_quote(cubin) + " 2>&1", &rc);
  REQUIRE_MESSAGE(rc == 0, objdump << " -sass " << cubin << " exited " << rc << ":\n" << sass.substr(0, 2000));
  return sass;
}

// Splits cuobjdump -sass output into functions and counts base opcodes (the mnemonic before
// the first '.', after an optional @predicate).
inline std::vector<SassFunction> parse_sass(const std::string& text) {
  std::vector<SassFunction> fns;
  static const std::regex fn_re(R"(^\s*Function\s*:\s*(\S+))");
  static const std::regex ins_re(R"(^\s*/\*[0-9a-fA-F]+\*/\s+(?:@!?U?P[0-9T]+\s+)?([A-Z][A-Z0-9_]*)[^;]*;)");
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    const std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    std::smatch m;
    if (std::regex_search(line, m, fn_re)) {
      fns.push_back(SassFunction{m[1].str(), {}, {}});
      continue;
    }
    if (fns.empty()) continue;
    if (std::regex_search(line, m, ins_re)) {
      const std::string op = m[1].str();
      if (fns.back().opcodes[op]++ == 0) {
        std::string l = line;
        const std::size_t c = l.find(';');
        if (c != std::string::npos) l = l.substr(0, c + 1);
        fns.back().first_line[op] = l;
      }
    }
  }
  return fns;
}

// Value of macro `name` in a `cpp -dM` map (evaluated with IntExpr); a missing or
// unevaluable macro fails the current test case with `where` in the message and gives -1.
inline long long macro_value(const std::map<std::string, std::string>& macros, const std::string& name,
                             const std::string& where) {
  auto it = macros.find(name);
  CHECK_MESSAGE(it != macros.end(), where << " does not #define " << name);
  if (it == macros.end()) return -1;
  IntExpr ev(macros);
  long long v = -1;
  std::string err;
  const bool ok = ev.eval(it->second, &v, &err);
  CHECK_MESSAGE(ok, where << ": cannot evaluate " << name << " = " << it->second << ": " << err);
  return ok ? v : -1;
}

// A kernel's PTX source with its `cpp -dM` macros (the manifest row's KERNEL_* facts and the
// body's own #defines); mv(m) = macro_value of m.
struct KernelMacros {
  std::string name, path;
  std::map<std::string, std::string> macros;
  long long mv(const char* m) const { return macro_value(macros, m, name); }
};

// The sm100a forward kernels (ptx/sm100a/fmha_fwd_*.ptx, the serial and the two-tile family)
// with their macros, read once; a source cpp cannot preprocess fails the test case.
inline const std::vector<KernelMacros>& sm100a_fwd_kernels() {
  static const std::vector<KernelMacros> ks = [] {
    std::vector<KernelMacros> out;
    for (const PtxSource& src : ptx_sources()) {
      if (src.arch != "sm100a" || src.name.rfind("fmha_fwd_", 0) != 0) continue;
      bool ok = false;
      std::string err;
      KernelMacros k{src.name, src.path, cpp_macros(src.path, &ok, &err)};
      REQUIRE_MESSAGE(ok, err);
      out.push_back(std::move(k));
    }
    return out;
  }();
  return ks;
}

// A field of a kernel parameter block: the PTX header's #define, and where the host struct has it.
struct AbiField {
  const char* define;
  std::size_t offset, size;
};

// Ties a PTX parameter-offset header (cpp -dM `macros` of `path`) to its host struct: every
// listed field's #define equals its offsetof(); `bytes_define` equals the struct size; every
// #define starting with `prefix` is listed; and the listed fields tile the struct without gap
// or overlap up to `reserved_offset`, where the reserved tail runs to `struct_bytes`. A host
// field without a PTX offset shows up as a gap, a PTX offset without a host field as unlisted.
inline void check_param_header(const std::map<std::string, std::string>& macros, const std::string& path,
                               const std::string& prefix, const char* bytes_define,
                               const std::vector<AbiField>& fields, std::size_t reserved_offset,
                               std::size_t reserved_bytes, std::size_t struct_bytes) {
  REQUIRE(!fields.empty());
  std::set<std::string> listed;
  for (const AbiField& f : fields) {
    CAPTURE(f.define);
    listed.insert(f.define);
    CHECK(macro_value(macros, f.define, path) == static_cast<long long>(f.offset));
  }
  CHECK(macro_value(macros, bytes_define, path) == static_cast<long long>(struct_bytes));
  for (const auto& kv : macros)
    if (kv.first.rfind(prefix, 0) == 0)
      CHECK_MESSAGE(listed.count(kv.first) == 1,
                    path << " defines " << kv.first << ", which names no host struct field in this test");
  for (std::size_t i = 0; i + 1 < fields.size(); ++i)
    CHECK_MESSAGE(fields[i].offset + fields[i].size == fields[i + 1].offset,
                  "gap or overlap between " << fields[i].define << " and " << fields[i + 1].define);
  CHECK(fields.back().offset + fields.back().size == reserved_offset);
  CHECK(reserved_offset + reserved_bytes == struct_bytes);
}

// ---- SASS instructions (cuobjdump -sass) --------------------------------------------------------
struct SassIns {
  long addr;
  std::string text;  // "@!P0 BRA 0x2ec0", "WARPGROUP.DEPBAR.LE gsb0, 0x0", ...
};

// The instructions of function `fn` in cuobjdump -sass output, in address order.
inline std::vector<SassIns> function_instructions(const std::string& sass, const std::string& fn) {
  std::vector<SassIns> out;
  static const std::regex fn_re(R"(^\s*Function\s*:\s*(\S+))");
  static const std::regex ins_re(R"(^\s*/\*([0-9a-fA-F]+)\*/\s+([^;]*);)");
  bool inside = false;
  for (const std::string& line : split_lines(sass)) {
    std::smatch m;
    if (std::regex_search(line, m, fn_re)) {
      inside = m[1].str() == fn;
      continue;
    }
    if (inside && std::regex_search(line, m, ins_re)) {
      std::string t = m[2].str();
      while (!t.empty() && t.back() == ' ') t.pop_back();
      out.push_back(SassIns{std::strtol(m[1].str().c_str(), nullptr, 16), t});
    }
  }
  return out;
}

}  // namespace ptxfmha_test
