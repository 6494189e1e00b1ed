// Reads a preprocessed sm100a forward kernel (build/ptx/sm100a/<name>.ptx): statements, the role
// regions of the kernel, and per (region, section) the number of synchronisation instructions of
// each kind, for comparison with the protocol model's event list (model.h: sections "pre", "L1",
// "L1.L1", "mid1", "post", ...).
//
// Keyed on the kernel's role table, not on incidental names: each family's roles.ptxh defines
// ROLE_ENTRY_<ROLE> <label> for every role (and TEARDOWN), read with the stub's other macros
// (tests/ptx_util.h cpp_macros). The regions are the code from each entry label to the next one;
// the setup region is everything before the first. The structure must agree with the table:
// every role entry is a branch target of the setup region's dispatch (or the code the dispatch
// falls through to), the setup branches to no other label outside itself, the teardown region
// holds tcgen05.dealloc, and every role region contains what its role does (role_signatures:
// a softmax region that loses its ex2, or two swapped table entries, is reported).
#pragma once
#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace sm100_ptx {

struct Stmt {
  std::vector<std::string> labels;  // labels defined right before this statement
  std::string text;                 // the instruction (predicate included), trimmed
};

inline std::string trim(const std::string& s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// Splits PTX text into statements (';'-terminated), labels attached to the next statement.
// Comments are removed; braces of the entry body are dropped.
inline std::vector<Stmt> parse_statements(const std::string& src) {
  std::string t;
  t.reserve(src.size());
  for (std::size_t i = 0; i < src.size(); ++i) {
    // Debug directives without a ';' (.loc / .file lines of the generated PTX): dropped whole.
    if (i == 0 || src[i - 1] == '\n') {
      std::size_t k = i;
      while (k < src.size() && (src[k] == ' ' || src[k] == '\t')) ++k;
      if (src.compare(k, 5, ".loc ") == 0 || src.compare(k, 6, ".file ") == 0) {
        while (i < src.size() && src[i] != '\n') ++i;
        t += '\n';
        continue;
      }
    }
    if (src.compare(i, 2, "//") == 0) {
      while (i < src.size() && src[i] != '\n') ++i;
      t += '\n';
      continue;
    }
    if (src.compare(i, 2, "/*") == 0) {
      const std::size_t e = src.find("*/", i + 2);
      i = e == std::string::npos ? src.size() : e + 1;
      continue;
    }
    t += (src[i] == '{' || src[i] == '}') && (i + 1 < src.size() && (src[i + 1] == '\n' || src[i + 1] == '\r')) ? ' ' : src[i];
  }
  std::vector<Stmt> out;
  std::vector<std::string> pending;
  std::size_t pos = 0;
  static const std::regex label_re(R"(^\s*([$A-Za-z_][$A-Za-z0-9_]*)\s*:(?!:))");
  while (pos < t.size()) {
    std::size_t semi = t.find(';', pos);
    if (semi == std::string::npos) semi = t.size();
    std::string chunk = t.substr(pos, semi - pos);
    pos = semi + 1;
    // Register lists contain no ';', so a chunk is: labels*, instruction.
    for (;;) {
      std::smatch m;
      if (std::regex_search(chunk, m, label_re)) {
        pending.push_back(m[1].str());
        chunk = chunk.substr(static_cast<std::size_t>(m.position(0) + m.length(0)));
      } else {
        break;
      }
    }
    chunk = trim(chunk);
    // Drop a leading '{' of the entry body or a '}' at its end.
    while (!chunk.empty() && (chunk[0] == '{' || chunk[0] == '}')) chunk = trim(chunk.substr(1));
    if (chunk.empty()) continue;
    // Collapse whitespace.
    std::string c;
    bool sp = false;
    for (char ch : chunk) {
      if (std::isspace(static_cast<unsigned char>(ch))) { sp = true; continue; }
      if (sp && !c.empty()) c += ' ';
      sp = false;
      c += ch;
    }
    out.push_back({pending, c});
    pending.clear();
  }
  return out;
}

// Operands of an instruction body: "op a, {b, c}, [d+(8 + 4)]" -> op, {"a", "{b, c}", "[d+(8 + 4)]"}
// (commas inside braces, brackets and parentheses do not split).
inline std::vector<std::string> operands(const std::string& b, std::string* op) {
  std::vector<std::string> out;
  const std::size_t sp = b.find(' ');
  *op = b.substr(0, sp);
  if (sp == std::string::npos) return out;
  std::string cur;
  int depth = 0;
  for (std::size_t i = sp + 1; i < b.size(); ++i) {
    const char c = b[i];
    if (c == '{' || c == '[' || c == '(') ++depth;
    if (c == '}' || c == ']' || c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty()) out.push_back(trim(cur));
  return out;
}
// The registers of a vector operand: "{%a, %b}" -> {"%a", "%b"}.
inline std::vector<std::string> reg_list(const std::string& braced) {
  std::vector<std::string> v;
  std::string x;
  for (char c : braced.substr(1, braced.size() - 2)) {
    if (c == ',') {
      v.push_back(trim(x));
      x.clear();
    } else {
      x += c;
    }
  }
  v.push_back(trim(x));
  return v;
}

// Mnemonic without predicate: "@%p bra L" -> "bra L".
inline std::string body(const std::string& s) {
  if (!s.empty() && s[0] == '@') {
    const std::size_t sp = s.find(' ');
    return sp == std::string::npos ? s : s.substr(sp + 1);
  }
  return s;
}
inline bool starts(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }
inline bool is_branch(const std::string& s, std::string* target) {
  const std::string b = body(s);
  if (!starts(b, "bra ") && !starts(b, "bra.uni ")) return false;
  if (target) *target = trim(b.substr(b.find(' ') + 1));
  return true;
}

// The instruction kinds the protocol comparison counts.
inline std::string kind_of(const std::string& s) {
  const std::string b = body(s);
  if (starts(b, "mbarrier.init")) return "init";
  if (starts(b, "mbarrier.arrive.expect_tx") || starts(b, "mbarrier.expect_tx")) return "expect_tx";
  if (starts(b, "mbarrier.arrive")) return "arrive";
  if (starts(b, "mbarrier.try_wait") || starts(b, "mbarrier.test_wait")) return "try_wait";
  if (starts(b, "tcgen05.commit")) return "commit";
  if (starts(b, "tcgen05.fence::before_thread_sync")) return "fence_before";
  if (starts(b, "tcgen05.fence::after_thread_sync")) return "fence_after";
  if (starts(b, "bar.sync") || starts(b, "barrier.sync") || starts(b, "barrier.cta.sync")) return "bar_sync";
  if (starts(b, "bar.arrive") || starts(b, "barrier.arrive") || starts(b, "barrier.cta.arrive")) return "bar_arrive";
  if (starts(b, "tcgen05.mma")) return "mma";
  if (starts(b, "cp.async.bulk.tensor")) return "tma";
  if (starts(b, "tcgen05.alloc")) return "alloc";
  if (starts(b, "tcgen05.dealloc")) return "dealloc";
  return "";
}

struct Region {
  std::string role;       // "setup", "teardown", or a role of the kernel's ROLE_ENTRY_ table
  std::string label;      // the label it starts at ("" for setup)
  std::size_t begin = 0, end = 0;
};

// Role signatures: a region of role `role` contains every needle of `all` (the content check of
// the role table; "load" and "tma" are the TMA warp of the serial and the two-tile family).
struct RoleSignature {
  const char* role;
  std::vector<const char*> all;
};
inline const std::vector<RoleSignature>& role_signatures() {
  static const std::vector<RoleSignature> sigs = {
      {"mma", {"tcgen05.mma", "tcgen05.commit"}},
      {"load", {"cp.async.bulk.tensor", "mbarrier::complete_tx"}},
      {"tma", {"cp.async.bulk.tensor", "mbarrier::complete_tx"}},
      {"correction", {"tcgen05.ld", "cp.async.bulk.tensor", ".global.shared", "bar.sync"}},
      {"softmax", {"tcgen05.ld", "ex2", "tcgen05.st"}},
      {"teardown", {"tcgen05.dealloc", "bar.sync"}},
  };
  return sigs;
}

struct Layout {
  std::vector<Stmt> st;
  std::vector<Region> regions;  // setup first, then the role regions in text order
  std::string error;
};

inline bool region_has(const std::vector<Stmt>& st, const Region& r, const char* needle) {
  for (std::size_t i = r.begin; i < r.end; ++i)
    if (st[i].text.find(needle) != std::string::npos) return true;
  return false;
}

// The role table of a kernel: ROLE_ENTRY_<ROLE> -> label, from its macros (role names lower case).
inline std::map<std::string, std::string> role_entries(const std::map<std::string, std::string>& macros) {
  std::map<std::string, std::string> out;
  const std::string pre = "ROLE_ENTRY_";
  for (const auto& kv : macros) {
    if (kv.first.rfind(pre, 0) != 0) continue;
    std::string role = kv.first.substr(pre.size());
    for (char& ch : role) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out[role] = trim(kv.second);
  }
  return out;
}

// Splits statements into the setup region and one region per role-table entry (see the file
// header), checking the structure against the table.
inline Layout split_roles_stmts(std::vector<Stmt> stmts, const std::map<std::string, std::string>& entries) {
  Layout L;
  L.st = std::move(stmts);
  const auto& st = L.st;
  if (entries.empty()) { L.error = "no ROLE_ENTRY_* role table (roles.ptxh)"; return L; }
  if (!entries.count("teardown")) { L.error = "the role table has no ROLE_ENTRY_TEARDOWN"; return L; }
  std::map<std::string, std::size_t> label_at;
  for (std::size_t i = 0; i < st.size(); ++i)
    for (const std::string& l : st[i].labels) {
      if (label_at.count(l)) { L.error = "label " + l + " defined twice"; return L; }
      label_at[l] = i;
    }
  std::vector<std::pair<std::size_t, std::string>> starts_v;  // (statement, role)
  std::map<std::string, std::string> role_of_label;
  for (const auto& e : entries) {
    auto it = label_at.find(e.second);
    if (it == label_at.end()) { L.error = "role " + e.first + ": entry label " + e.second + " not found"; return L; }
    starts_v.push_back({it->second, e.first});
    role_of_label[e.second] = e.first;
  }
  std::sort(starts_v.begin(), starts_v.end());
  const std::size_t setup_end = starts_v.front().first;
  L.regions.push_back({"setup", "", 0, setup_end});
  for (std::size_t k = 0; k < starts_v.size(); ++k) {
    Region r;
    r.role = starts_v[k].second;
    r.label = entries.at(r.role);
    r.begin = starts_v[k].first;
    r.end = k + 1 < starts_v.size() ? starts_v[k + 1].first : st.size();
    L.regions.push_back(r);
  }
  // The setup region: ends the CTA-wide setup barrier, dispatches to the role entries only.
  bool setup_bar = false;
  std::set<std::string> dispatched;
  for (std::size_t i = 0; i < setup_end; ++i) {
    if (kind_of(st[i].text) == "bar_sync") setup_bar = true;
    std::string tgt;
    if (!is_branch(st[i].text, &tgt)) continue;
    auto it = label_at.find(tgt);
    if (it == label_at.end()) { L.error = "setup branches to undefined label " + tgt; return L; }
    if (it->second < setup_end) continue;  // a local label of the setup code
    if (!role_of_label.count(tgt)) { L.error = "the setup dispatch branches to " + tgt + ", which is no role entry of the table"; return L; }
    dispatched.insert(role_of_label[tgt]);
  }
  if (!setup_bar) { L.error = "no bar.sync in the setup region (before the first role entry)"; return L; }
  dispatched.insert(starts_v.front().second);  // the fall-through of the dispatch
  for (const auto& e : entries)
    if (e.first != "teardown" && !dispatched.count(e.first)) {
      L.error = "role " + e.first + " (" + e.second + ") is neither a dispatch target nor the dispatch's fall-through";
      return L;
    }
  // Content: every region holds what its role does.
  for (std::size_t k = 1; k < L.regions.size(); ++k) {
    const Region& r = L.regions[k];
    bool known = false;
    for (const RoleSignature& sg : role_signatures()) {
      if (r.role != sg.role) continue;
      known = true;
      for (const char* n : sg.all)
        if (!region_has(st, r, n)) { L.error = "region " + r.role + " (" + r.label + ") lacks '" + n + "'"; return L; }
    }
    if (!known) { L.error = "role " + r.role + " has no signature (ptx_roles.h role_signatures)"; return L; }
  }
  return L;
}

inline Layout split_roles(const std::string& ptx, const std::map<std::string, std::string>& macros) {
  return split_roles_stmts(parse_statements(ptx), role_entries(macros));
}

// Static instruction counts per section of one region. Sections are formed by the region's
// synchronisation loops: a label with a later backward branch to it whose range holds a
// synchronisation instruction (mbarrier, commit, fence, named barrier), other than the retry loop
// of a single try_wait. Loops that only issue MMAs, TMA boxes or TMEM loads (K-steps, boxes,
// chunks) do not form sections. The code before, inside, between and after the top-level ones
// is "pre", "L1", "mid1", "L2", ..., "post"; a loop holding synchronisation loops of its own is
// split the same way under its name ("L1.pre", "L1.L1", "L1.post", ...). Setup and teardown are
// one section each.
using Counts = std::map<std::string, std::map<std::string, int>>;  // section -> kind -> count

inline bool is_sync_kind(const std::string& k) {
  return k == "init" || k == "expect_tx" || k == "arrive" || k == "try_wait" || k == "commit" || k == "fence_before" ||
         k == "fence_after" || k == "bar_sync" || k == "bar_arrive";
}

namespace detail {
using Loop = std::pair<std::size_t, std::size_t>;  // [label statement, last backward branch]

// Names the statements of [b, e) (a region, or the body of the loop `self`, which then spans all
// of [b, e) and is not one of its own sections).
inline void name_sections(const std::vector<Loop>& loops, std::size_t b, std::size_t e, const std::string& prefix,
                          std::vector<std::string>& sec, const Loop* self = nullptr) {
  auto inside = [&](const Loop& lp) { return lp.first >= b && lp.second < e && !(self && lp == *self); };
  // Top-level loops inside [b, e).
  std::vector<Loop> top;
  for (const Loop& lp : loops) {
    if (!inside(lp)) continue;
    bool nested = false;
    for (const Loop& o : loops)
      if (o != lp && inside(o) && o.first <= lp.first && lp.second <= o.second) nested = true;
    if (!nested) top.push_back(lp);
  }
  std::sort(top.begin(), top.end());
  for (std::size_t i = b; i < e; ++i) {
    std::string s = "pre";
    for (std::size_t k = 0; k < top.size(); ++k) {
      if (i >= top[k].first && i <= top[k].second) { s = ""; break; }
      if (i > top[k].second) s = k + 1 == top.size() ? "post" : "mid" + std::to_string(k + 1);
    }
    if (!s.empty()) sec[i] = prefix + s;
  }
  for (std::size_t k = 0; k < top.size(); ++k) {
    const std::string name = prefix + "L" + std::to_string(k + 1);
    bool inner = false;
    for (const Loop& o : loops)
      if (o != top[k] && o.first >= top[k].first && o.second <= top[k].second) inner = true;
    if (!inner) {
      for (std::size_t i = top[k].first; i <= top[k].second; ++i) sec[i] = name;
    } else {
      // The loop's own label statement and its back-branch belong to its body.
      name_sections(loops, top[k].first, top[k].second + 1, name + ".", sec, &top[k]);
    }
  }
}
}  // namespace detail

// The section of every statement of region r (indexed like L.st; empty outside r).
inline std::vector<std::string> section_names(const Layout& L, const Region& r) {
  const auto& st = L.st;
  std::vector<std::string> sec(st.size());
  if (r.role == "setup" || r.role == "teardown") {
    for (std::size_t i = r.begin; i < r.end; ++i) sec[i] = r.role;
    return sec;
  }
  std::map<std::string, std::size_t> label_at;
  for (std::size_t i = r.begin; i < r.end; ++i)
    for (const std::string& l : st[i].labels) label_at[l] = i;
  std::map<std::size_t, std::size_t> back;  // label index -> last back-branch index
  for (std::size_t i = r.begin; i < r.end; ++i) {
    std::string tgt;
    if (!is_branch(st[i].text, &tgt)) continue;
    auto it = label_at.find(tgt);
    if (it == label_at.end() || it->second > i) continue;
    back[it->second] = std::max(back[it->second], i);
  }
  std::vector<detail::Loop> loops;
  for (const auto& lp : back) {
    int waits = 0, others = 0, sync = 0;
    for (std::size_t i = lp.first; i <= lp.second; ++i) {
      const std::string k = kind_of(st[i].text), b = body(st[i].text);
      if (k == "try_wait") ++waits;
      else if (!starts(b, "bra") && !starts(b, "setp")) ++others;
      if (is_sync_kind(k)) ++sync;
    }
    if (waits == 1 && others == 0) continue;  // retry loop of one wait
    if (sync == 0) continue;                  // K-steps, boxes, chunks: no synchronisation
    loops.push_back(lp);
  }
  detail::name_sections(loops, r.begin, r.end, "", sec);
  return sec;
}

inline Counts count_sections(const Layout& L, const Region& r) {
  const std::vector<std::string> sec = section_names(L, r);
  Counts c;
  for (std::size_t i = r.begin; i < r.end; ++i) {
    const std::string kind = kind_of(L.st[i].text);
    if (!kind.empty()) ++c[sec[i]][kind];
  }
  return c;
}

}  // namespace sm100_ptx
