// Reads a preprocessed sm100a forward kernel (build/ptx/sm100a/<name>.ptx): statements, the role
// regions the warp-role dispatch branches to, the top-level loops inside each region, and per
// (region, section) the number of synchronisation instructions of each kind, for comparison with
// the protocol model's event list (model.h: sections "pre", "L1", "mid1", "L2", ...).
//
// Robust to label renames: regions are found from the structure (the conditional branches right
// after the setup bar.sync, the region holding tcgen05.dealloc is the teardown) and classified by
// what they contain (kRoleSignatures); the label names of today's kernels are kept in one table
// (kRoleLabels) only to print a note when the structure and the names disagree.
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
  std::string role;       // "setup", "teardown", or a role of kRoleSignatures
  std::string label;      // the label it starts at ("" for the fall-through region)
  std::size_t begin = 0, end = 0;
};

// Role signatures: a region is that role when it contains every needle of `all`.
struct RoleSignature {
  const char* role;
  std::vector<const char*> all;
};
inline const std::vector<RoleSignature>& role_signatures() {
  static const std::vector<RoleSignature> sigs = {
      {"mma", {"tcgen05.mma"}},
      {"load", {"cp.async.bulk.tensor", "mbarrier::complete_tx"}},
      {"correction", {"tcgen05.ld", "cp.async.bulk.tensor", ".global.shared"}},
      {"softmax", {"tcgen05.ld", "ex2"}},
  };
  return sigs;
}
// Today's label names (diagnostics only): role -> label ("" = the fall-through region).
inline const std::map<std::string, std::string>& role_labels() {
  static const std::map<std::string, std::string> l = {
      {"mma", ""}, {"load", "$L_load"}, {"softmax", "$L_softmax"}, {"teardown", "$L_role_end"}};
  return l;
}

struct Layout {
  std::vector<Stmt> st;
  std::vector<Region> regions;  // setup first, then role regions in text order
  std::string error;
  std::vector<std::string> notes;
};

inline bool region_has(const std::vector<Stmt>& st, const Region& r, const char* needle) {
  for (std::size_t i = r.begin; i < r.end; ++i)
    if (st[i].text.find(needle) != std::string::npos) return true;
  return false;
}

inline Layout split_roles(const std::string& ptx) {
  Layout L;
  L.st = parse_statements(ptx);
  const auto& st = L.st;
  std::size_t i0 = st.size();
  for (std::size_t i = 0; i < st.size(); ++i)
    if (kind_of(st[i].text) == "bar_sync") { i0 = i; break; }
  if (i0 == st.size()) { L.error = "no bar.sync (end of setup) found"; return L; }
  // The dispatch block: setp / conditional branches / moves / loads / fences after the setup barrier.
  std::vector<std::string> targets;
  std::size_t fall = i0 + 1, last_branch = i0;
  for (std::size_t i = i0 + 1; i < st.size(); ++i) {
    const std::string b = body(st[i].text);
    std::string tgt;
    if (st[i].text[0] == '@' && is_branch(st[i].text, &tgt)) {
      targets.push_back(tgt);
      last_branch = i;
      continue;
    }
    if (!st[i].labels.empty()) break;
    if (starts(b, "setp") || starts(b, "mov") || starts(b, "ld.shared") || starts(b, "tcgen05.fence") ||
        starts(b, "and.") || starts(b, "shr.") || starts(b, "add.")) {
      if (starts(b, "add.") && last_branch > i0) break;  // first instruction of the fall-through role
      continue;
    }
    break;
  }
  fall = last_branch + 1;
  std::map<std::string, std::size_t> label_at;
  for (std::size_t i = 0; i < st.size(); ++i)
    for (const std::string& l : st[i].labels) label_at[l] = i;
  std::vector<std::pair<std::size_t, std::string>> starts_v = {{fall, ""}};
  std::set<std::string> seen;
  for (const std::string& t : targets) {
    if (!label_at.count(t)) { L.error = "dispatch target " + t + " not defined"; return L; }
    if (seen.insert(t).second) starts_v.push_back({label_at[t], t});
  }
  std::sort(starts_v.begin(), starts_v.end());
  L.regions.push_back({"setup", "", 0, fall});
  for (std::size_t k = 0; k < starts_v.size(); ++k) {
    Region r;
    r.label = starts_v[k].second;
    r.begin = starts_v[k].first;
    r.end = k + 1 < starts_v.size() ? starts_v[k + 1].first : st.size();
    L.regions.push_back(r);
  }
  for (std::size_t k = 1; k < L.regions.size(); ++k) {
    Region& r = L.regions[k];
    if (region_has(st, r, "tcgen05.dealloc")) { r.role = "teardown"; continue; }
    for (const RoleSignature& s : role_signatures()) {
      bool all = true;
      for (const char* n : s.all) all = all && region_has(st, r, n);
      if (all) { r.role = s.role; break; }
    }
    if (r.role.empty()) r.role = "unknown@" + (r.label.empty() ? std::string("fall-through") : r.label);
    auto it = role_labels().find(r.role);
    if (it != role_labels().end() && it->second != r.label)
      L.notes.push_back("role " + r.role + " starts at '" + r.label + "', the label table says '" + it->second + "'");
  }
  return L;
}

// Static instruction counts per section of one region: sections are the top-level loops of the
// region (a label with a later backward branch to it; retry loops of a single try_wait do not
// count as loops) and the code before, between and after them: "pre", "L1", "mid1", "L2", ...,
// "post" (the code after the last loop). Setup and teardown regions are one section each.
using Counts = std::map<std::string, std::map<std::string, int>>;  // section -> kind -> count

inline Counts count_sections(const Layout& L, const Region& r) {
  const auto& st = L.st;
  Counts c;
  if (r.role == "setup" || r.role == "teardown") {
    for (std::size_t i = r.begin; i < r.end; ++i) {
      const std::string k = kind_of(st[i].text);
      if (!k.empty()) ++c[r.role][k];
    }
    return c;
  }
  std::map<std::string, std::size_t> label_at;
  for (std::size_t i = r.begin; i < r.end; ++i)
    for (const std::string& l : st[i].labels) label_at[l] = i;
  std::map<std::size_t, std::size_t> loops;  // label index -> last back-branch index
  for (std::size_t i = r.begin; i < r.end; ++i) {
    std::string tgt;
    if (!is_branch(st[i].text, &tgt)) continue;
    auto it = label_at.find(tgt);
    if (it == label_at.end() || it->second > i) continue;
    loops[it->second] = std::max(loops[it->second], i);
  }
  std::vector<std::pair<std::size_t, std::size_t>> top;
  for (const auto& lp : loops) {
    int waits = 0, others = 0;
    for (std::size_t i = lp.first; i <= lp.second; ++i) {
      const std::string k = kind_of(st[i].text), b = body(st[i].text);
      if (k == "try_wait") ++waits;
      else if (!starts(b, "bra") && !starts(b, "setp")) ++others;
    }
    if (waits == 1 && others == 0) continue;  // retry loop of one wait
    bool nested = false;
    for (const auto& o : top)
      if (o.first <= lp.first && lp.second <= o.second) nested = true;
    if (!nested) top.push_back(lp);
  }
  std::sort(top.begin(), top.end());
  for (std::size_t i = r.begin; i < r.end; ++i) {
    std::string sec = "pre";
    int k = 0;
    for (const auto& lp : top) {
      ++k;
      if (i >= lp.first && i <= lp.second) { sec = "L" + std::to_string(k); break; }
      if (i > lp.second) sec = "mid" + std::to_string(k);
    }
    if (sec == "mid" + std::to_string(top.size()) && !top.empty()) sec = "post";
    const std::string kind = kind_of(st[i].text);
    if (!kind.empty()) ++c[sec][kind];
  }
  return c;
}

}  // namespace sm100_ptx
