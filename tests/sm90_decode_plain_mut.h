// The injected bugs of the plain rows' "sm90 decode protocol model" (tests/sm90_decode_plain.h,
// sm90_decode_plain_hb.h): edits of the executed PTX that each break one rule of the protocol,
// and the loop that checks every one is caught on the splits given with it.
//   PlainMutation      the edits (sm90_decode_protocol_mut.h's Edit: a statement replaced or
//                      removed) or a move (statements taken to another place), the row, the splits
//   edit, add_edits, add_move   the test files' builders of such lists
//   apply              the mutation applied to the row's statements
//   run_plain_mutations  each mutation checked on its splits: caught when some split reports a
//                      problem or an execution error (a mutation not caught fails the test case);
//                      the exploration and the happens-before check compared on each
#pragma once
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sm90_decode_plain_explore.h"
#include "sm90_decode_protocol_mut.h"

namespace sm90_decode_plain {

using sm90_decode_protocol::Mutation;

struct PlainMutation {
  std::string what;
  std::string row;
  std::vector<Mutation> edits;  // Mutation::Edit each
  // a move: `move_count` statements, from the first at or after label `move_from` that starts
  // with `move_prefix`, to before the first at or after label `move_to` that starts with
  // `move_to_prefix` (empty: the labelled one, whose labels the moved statements take)
  const char* move_from = nullptr;
  const char* move_prefix = "";
  int move_count = 0;
  const char* move_to = nullptr;
  const char* move_to_prefix = "";
  bool epilogue = false;  // edits the EPILOGUE's / HO_FLUSH's BAR_EPI or accesses: its template is made again
  std::vector<Config> configs;
};

// Builders of the test files' mutation lists: an edit (the first statement at or after label
// `after` that starts with `prefix` replaced, or removed when `replacement` is empty), a mutation of
// edits, and a move of `count` statements (PlainMutation's move fields).
inline Mutation edit(const char* after, const char* prefix, const char* replacement) {
  return Mutation{Mutation::Edit, "", after, prefix, replacement};
}
inline void add_edits(std::vector<PlainMutation>* muts, const char* what, const std::string& row, std::vector<Mutation> e,
                      std::vector<Config> cs, bool epilogue = false) {
  PlainMutation m;
  m.what = what;
  m.row = row;
  m.edits = std::move(e);
  m.configs = std::move(cs);
  m.epilogue = epilogue;
  muts->push_back(m);
}
inline void add_move(std::vector<PlainMutation>* muts, const char* what, const std::string& row, const char* from,
                     const char* prefix, int count, const char* to, const char* to_prefix, std::vector<Config> cs) {
  PlainMutation m;
  m.what = what;
  m.row = row;
  m.move_from = from;
  m.move_prefix = prefix;
  m.move_count = count;
  m.move_to = to;
  m.move_to_prefix = to_prefix;
  m.configs = std::move(cs);
  muts->push_back(m);
}

// The first statement at or after the one labelled `label` that starts with `prefix` (white space
// runs as one blank), or st->size().
inline std::size_t find_stmt(const std::vector<sm100_ptx::Stmt>& st, const char* label, const char* prefix) {
  bool armed = false;
  for (std::size_t i = 0; i < st.size(); ++i) {
    for (const std::string& l : st[i].labels) armed = armed || l == label;
    if (armed && sm90_decode_protocol::squash(st[i].text).rfind(sm90_decode_protocol::squash(prefix), 0) == 0) return i;
  }
  return st.size();
}

inline bool apply(std::vector<sm100_ptx::Stmt>* st, const PlainMutation& m, const KernelMacros& k) {
  for (const Mutation& e : m.edits)
    if (!sm90_decode_protocol::mutate(st, e, k)) return false;
  if (m.move_from == nullptr) return true;
  const std::size_t a = find_stmt(*st, m.move_from, m.move_prefix);
  if (a + static_cast<std::size_t>(m.move_count) > st->size()) return false;
  std::vector<sm100_ptx::Stmt> moved(st->begin() + static_cast<std::ptrdiff_t>(a),
                                     st->begin() + static_cast<std::ptrdiff_t>(a) + m.move_count);
  std::vector<std::string> labels;  // the moved statements' labels stay where they were
  for (sm100_ptx::Stmt& x : moved) {
    labels.insert(labels.end(), x.labels.begin(), x.labels.end());
    x.labels.clear();
  }
  st->erase(st->begin() + static_cast<std::ptrdiff_t>(a), st->begin() + static_cast<std::ptrdiff_t>(a) + m.move_count);
  if (a < st->size()) (*st)[a].labels.insert((*st)[a].labels.end(), labels.begin(), labels.end());
  const std::size_t b = find_stmt(*st, m.move_to, m.move_to_prefix);
  if (b >= st->size()) return false;
  moved.front().labels = (*st)[b].labels;  // a branch to the target runs the moved statements first
  (*st)[b].labels.clear();
  st->insert(st->begin() + static_cast<std::ptrdiff_t>(b), moved.begin(), moved.end());
  return true;
}

// Applies each mutation to its row and checks it on its splits (static_checks, happens_before
// and the exploration, capped at `cap` states); returns how many were caught: some split with a
// problem or an execution error. On each split the exploration and the happens-before check must
// agree (both find a problem or neither), unless the exploration was capped. `tpl(row, rows)`: the
// unmutated row's template (a mutation marked `epilogue` makes its own).
template <class TemplateOf>
int run_plain_mutations(const std::vector<PlainMutation>& muts, TemplateOf tpl, std::size_t cap) {
  int caught = 0;
  for (const PlainMutation& m : muts) {
    CAPTURE(m.what);
    const KernelMacros& k = sm90_decode_protocol::kernel(m.row);
    std::vector<sm100_ptx::Stmt> st = sm90_decode_protocol::statements(m.row);
    REQUIRE_MESSAGE(apply(&st, m, k), "the edit found nothing to change");
    bool found = false;
    for (const Config& c : m.configs) {
      CAPTURE(c.str());
      const Template own = m.epilogue ? make_template(st, k, c.rows) : Template();
      const Model model = build_model(st, k, c, m.epilogue ? own : tpl(m.row, c.rows));
      const Run r = check_model(model, c);
      const Explored e = explore(model, cap);
      if (!e.capped)
        CHECK_MESSAGE(e.verdict.problems.empty() == r.interleaving.problems.empty(),
                      "the exploration and the happens-before check disagree");
      if (r.verdict.problems.empty() && r.error.empty() && e.verdict.problems.empty()) continue;
      found = true;
      auto first = [](const Verdict& v) { return v.problems.empty() ? std::string("none") : v.problems.front(); };
      MESSAGE(m.what << " (" << m.row << ", " << c.str() << "): " << (!r.error.empty() ? "execution: " + r.error + "; " : std::string())
                     << "happens-before: " << first(r.interleaving) << "; exploration" << std::string(e.capped ? " (capped)" : "") << " of "
                     << e.states << " states: " << first(e.verdict) << "; static: " << first(r.statics));
      break;
    }
    if (found) ++caught;
    CHECK_MESSAGE(found, m.what << ": not caught");
  }
  return caught;
}

}  // namespace sm90_decode_plain
