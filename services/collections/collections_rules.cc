#include "services/collections/collections_rules.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "common/text.h"

namespace careops::collections {

std::string_view ComponentName(Component c) {
  switch (c) {
    case Component::kFee:
      return "FEE";
    case Component::kInterest:
      return "INTEREST";
    case Component::kPrincipal:
      return "PRINCIPAL";
  }
  return "PRINCIPAL";
}

std::optional<Component> ParseComponent(std::string_view name) {
  for (Component c : {Component::kFee, Component::kInterest, Component::kPrincipal}) {
    if (ComponentName(c) == name) return c;
  }
  return std::nullopt;
}

absl::StatusOr<ComponentOrder> ComponentOrder::Parse(std::string_view text) {
  ComponentOrder out;
  std::vector<std::string> parts = absl::StrSplit(Abs(text), ',');
  if (parts.size() != kComponents) {
    return InvalidArgument("allocation_order", "must name fee, interest and principal once each, comma-separated");
  }
  std::set<Component> seen;
  for (int i = 0; i < kComponents; ++i) {
    std::string upper(absl::StripAsciiWhitespace(parts[i]));
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::optional<Component> c = ParseComponent(upper);
    if (!c || !seen.insert(*c).second) {
      return InvalidArgument("allocation_order", "must name fee, interest and principal once each, comma-separated");
    }
    out.order_[i] = *c;
  }
  return out;
}

namespace {

// Pays up to `amount` of `item` in component order; returns what is left.
int64_t PayItem(OpenItem& item, int64_t amount, const ComponentOrder& order, std::vector<AllocationLine>& out) {
  for (Component c : order.order()) {
    if (amount == 0) break;
    int64_t& owed = item.outstanding[static_cast<int>(c)];
    int64_t take = std::min(owed, amount);
    if (take <= 0) continue;
    owed -= take;
    amount -= take;
    out.push_back({item.installment_id, c, take});
  }
  return amount;
}

}  // namespace

absl::StatusOr<std::vector<AllocationLine>> AllocateOldestFirst(std::vector<OpenItem> items, int64_t amount_minor,
                                                                const ComponentOrder& order) {
  if (amount_minor <= 0) return InvalidArgument("amount", "must be greater than zero");
  int64_t owed = 0;
  for (const OpenItem& item : items) owed += item.total();
  if (amount_minor > owed) {
    return InvalidArgument("amount", absl::StrCat("exceeds what the ledger owes (", owed,
                                                  " minor units): over-allocation is refused"));
  }
  std::stable_sort(items.begin(), items.end(), [](const OpenItem& a, const OpenItem& b) {
    if (a.due_date != b.due_date) return a.due_date < b.due_date;
    return a.number < b.number;
  });
  std::vector<AllocationLine> out;
  for (OpenItem& item : items) {
    amount_minor = PayItem(item, amount_minor, order, out);
    if (amount_minor == 0) break;
  }
  return out;
}

absl::StatusOr<std::vector<AllocationLine>> AllocateAsRequested(const std::vector<OpenItem>& items,
                                                                const std::vector<RequestedAllocation>& requested,
                                                                int64_t amount_minor, const ComponentOrder& order) {
  std::map<std::string, OpenItem> by_id;
  for (const OpenItem& item : items) by_id.emplace(item.installment_id, item);
  std::set<std::string> seen;
  int64_t sum = 0;
  std::vector<AllocationLine> out;
  for (size_t i = 0; i < requested.size(); ++i) {
    const RequestedAllocation& r = requested[i];
    const std::string field = absl::StrCat("allocations[", i, "]");
    auto it = by_id.find(r.installment_id);
    if (it == by_id.end()) {
      return InvalidArgument(absl::StrCat(field, ".installment_id"), "is not an installment of the ledger with a balance");
    }
    if (!seen.insert(r.installment_id).second) {
      return InvalidArgument(absl::StrCat(field, ".installment_id"), "appears more than once");
    }
    if (r.amount_minor <= 0) return InvalidArgument(absl::StrCat(field, ".amount"), "must be greater than zero");
    if (r.amount_minor > it->second.total()) {
      return InvalidArgument(absl::StrCat(field, ".amount"),
                             absl::StrCat("exceeds the installment's balance (", it->second.total(),
                                          " minor units): over-allocation is refused"));
    }
    sum += r.amount_minor;
    PayItem(it->second, r.amount_minor, order, out);
  }
  if (sum != amount_minor) {
    return InvalidArgument("allocations", absl::StrCat("add up to ", sum, " minor units, not the amount of ",
                                                       amount_minor));
  }
  return out;
}

int64_t PausedDays(absl::CivilDay due, absl::CivilDay as_of, const std::vector<PauseSpan>& pauses) {
  if (as_of <= due) return 0;
  // Clip each pause to [due + 1, as_of + 1), then merge overlapping spans.
  std::vector<std::pair<absl::CivilDay, absl::CivilDay>> spans;
  for (const PauseSpan& p : pauses) {
    absl::CivilDay lo = std::max(p.start, due + 1);
    absl::CivilDay hi = std::min(p.end.value_or(as_of + 1), as_of + 1);
    if (lo < hi) spans.emplace_back(lo, hi);
  }
  std::sort(spans.begin(), spans.end());
  int64_t days = 0;
  std::optional<std::pair<absl::CivilDay, absl::CivilDay>> cur;
  for (const auto& s : spans) {
    if (cur && s.first <= cur->second) {
      cur->second = std::max(cur->second, s.second);
      continue;
    }
    if (cur) days += cur->second - cur->first;
    cur = s;
  }
  if (cur) days += cur->second - cur->first;
  return days;
}

int64_t DaysPastDue(absl::CivilDay due, absl::CivilDay as_of, int64_t grace_days,
                    const std::vector<PauseSpan>& pauses) {
  if (as_of <= due) return 0;
  return std::max<int64_t>(0, (as_of - due) - grace_days - PausedDays(due, as_of, pauses));
}

std::string AgingBuckets::DefaultText() {
  return "current:0-0,1-30:1-30,31-60:31-60,61-90:61-90,91-120:91-120,120+:121-";
}

absl::StatusOr<AgingBuckets> AgingBuckets::Parse(std::string_view text) {
  AgingBuckets out;
  std::set<std::string> names;
  for (absl::string_view entry : absl::StrSplit(Abs(text), ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    size_t colon = entry.rfind(':');
    size_t dash = colon == absl::string_view::npos ? absl::string_view::npos : entry.find('-', colon);
    if (colon == absl::string_view::npos || colon == 0 || dash == absl::string_view::npos) {
      return InvalidArgument("aging_buckets", absl::StrCat("entry '", entry, "' is not name:min-max or name:min-"));
    }
    Bucket b;
    b.name = std::string(entry.substr(0, colon));
    absl::string_view min_text = entry.substr(colon + 1, dash - colon - 1);
    absl::string_view max_text = entry.substr(dash + 1);
    int64_t min = 0, max = 0;
    if (!absl::SimpleAtoi(min_text, &min) || min < 0 || (!max_text.empty() && !absl::SimpleAtoi(max_text, &max))) {
      return InvalidArgument("aging_buckets", absl::StrCat("entry '", entry, "' has a bad day range"));
    }
    b.min_days = min;
    if (!max_text.empty()) {
      if (max < min) return InvalidArgument("aging_buckets", absl::StrCat("entry '", entry, "' ends before it starts"));
      b.max_days = max;
    }
    if (!names.insert(b.name).second) {
      return InvalidArgument("aging_buckets", absl::StrCat("bucket '", b.name, "' appears twice"));
    }
    if (out.buckets_.empty()) {
      if (b.min_days != 0) return InvalidArgument("aging_buckets", "the first bucket must start at 0 days");
    } else {
      const Bucket& prev = out.buckets_.back();
      if (!prev.max_days) {
        return InvalidArgument("aging_buckets", absl::StrCat("bucket '", prev.name, "' is open-ended but not last"));
      }
      if (b.min_days <= *prev.max_days) {
        return InvalidArgument("aging_buckets", absl::StrCat("bucket '", b.name, "' overlaps '", prev.name, "'"));
      }
      if (b.min_days > *prev.max_days + 1) {
        return InvalidArgument("aging_buckets", absl::StrCat("days ", *prev.max_days + 1, "..", b.min_days - 1,
                                                             " fall in no bucket (between '", prev.name, "' and '",
                                                             b.name, "')"));
      }
    }
    out.buckets_.push_back(std::move(b));
  }
  if (out.buckets_.empty() || out.buckets_.back().max_days) {
    return InvalidArgument("aging_buckets", "the last bucket must be open-ended (name:min-)");
  }
  return out;
}

const Bucket& AgingBuckets::For(int64_t days) const {
  for (const Bucket& b : buckets_) {
    if (!b.max_days || days <= *b.max_days) return b;
  }
  return buckets_.back();
}

LedgerAging AgeLedger(std::vector<OpenItem> open_items, const std::vector<PauseSpan>& pauses, absl::CivilDay as_of,
                      int64_t grace_days, const AgingBuckets& buckets) {
  std::stable_sort(open_items.begin(), open_items.end(), [](const OpenItem& a, const OpenItem& b) {
    if (a.due_date != b.due_date) return a.due_date < b.due_date;
    return a.number < b.number;
  });
  LedgerAging out;
  out.as_of = as_of;
  for (const OpenItem& item : open_items) {
    if (item.total() <= 0) continue;
    if (!out.anchor) out.anchor = item;
    out.outstanding_minor += item.total();
    if (item.due_date < as_of) out.past_due_minor += item.total();
    int64_t dpd = DaysPastDue(item.due_date, as_of, grace_days, pauses);
    out.installments.push_back({item.installment_id, dpd, buckets.For(dpd).name, item.total()});
  }
  if (out.anchor) {
    out.days_past_due = DaysPastDue(out.anchor->due_date, as_of, grace_days, pauses);
    out.paused_days = PausedDays(out.anchor->due_date, as_of, pauses);
  }
  out.bucket = buckets.For(out.days_past_due).name;
  return out;
}

// ---- Matching ----------------------------------------------------------------

namespace {

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// The Latin-1 letters U+00C0..U+00FF (two UTF-8 bytes, C3 80..C3 BF) as the
// ASCII letter a bank's file writes for them: "PEÑA" arrives as "PENA".
// Index = second byte - 0x80; '-' = not a letter (the signs x and /).
constexpr char kLatin1Base[] =
    "aaaaaaaceeeeiiii"   // C0..CF  (Æ -> a)
    "dnooooo-ouuuuyts"  // D0..DF  (D7 is the multiplication sign, DF is ß)
    "aaaaaaaceeeeiiii"   // E0..EF
    "dnooooo-ouuuuyty";  // F0..FF  (F7 is the division sign)

// Lower-case words of letters and digits, accents folded to their base letter
// (other non-ASCII letters kept as they are, so a name in another script still
// compares with itself).
std::vector<std::string> NameWords(std::string_view name) {
  std::vector<std::string> words;
  std::string cur;
  auto end_word = [&] {
    if (!cur.empty()) words.push_back(std::move(cur));
    cur.clear();
  };
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      if (IsWordChar(name[i])) {
        cur.push_back(static_cast<char>(std::tolower(c)));
      } else {
        end_word();
      }
      continue;
    }
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    len = std::min(len, name.size() - i);
    if (c == 0xC3 && len == 2) {
      const char base = kLatin1Base[static_cast<unsigned char>(name[i + 1]) & 0x3F];
      if (base == '-') {
        end_word();
      } else {
        cur.push_back(base);
      }
    } else if (c == 0xC2 && len == 2) {
      end_word();  // U+0080..U+00BF: no-break space, punctuation, signs
    } else {
      cur.append(name.substr(i, len));
    }
    i += len - 1;
  }
  end_word();
  return words;
}

// Words a payer's bank line adds or leaves out at will: legal forms and joiners.
bool IsNoiseWord(std::string_view w) {
  static const std::set<std::string_view> kNoise = {
      "the", "and", "of", "inc", "incorporated", "corp", "corporation", "co", "company", "ltd",
      "limited", "llc", "llp", "plc", "lp", "sa", "ag", "gmbh", "pte", "pty", "bhd", "sdn"};
  return kNoise.count(w) != 0;
}

// The words a name is compared by: NameWords without the noise words (unless
// the name is nothing else), sorted, so "DELA CRUZ, JUAN" is "Juan Dela Cruz".
std::vector<std::string> NameKey(std::string_view name) {
  std::vector<std::string> all = NameWords(name), key;
  for (std::string& w : all) {
    if (!IsNoiseWord(w)) key.push_back(w);
  }
  if (key.empty()) key = std::move(all);
  std::sort(key.begin(), key.end());
  return key;
}

// Edits (insert, delete, change, swap of neighbours) between two words,
// counted up to `limit` + 1.
size_t EditDistance(std::string_view a, std::string_view b, size_t limit) {
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > limit) return limit + 1;
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return std::min(d[a.size()][b.size()], limit + 1);
}

enum class WordMatch { kNone, kInitial, kWord };

// How a payer's word stands for an account name's word: the same word, a
// slip of the keyboard (one edit in a word of 4 or more letters, two from 8),
// an abbreviation of at least 3 letters ("INTL" is not one, "INTERNAT" is),
// or an initial ("J." for "Juan").
WordMatch MatchWord(std::string_view a, std::string_view b) {
  if (a == b) return WordMatch::kWord;
  const std::string_view shorter = a.size() <= b.size() ? a : b, longer = a.size() <= b.size() ? b : a;
  if (shorter.size() == 1) return longer.front() == shorter.front() ? WordMatch::kInitial : WordMatch::kNone;
  if (shorter.size() >= 3 && longer.substr(0, shorter.size()) == shorter) return WordMatch::kWord;
  const size_t allowed = shorter.size() >= 8 ? 2 : shorter.size() >= 4 ? 1 : 0;
  if (allowed > 0 && EditDistance(a, b, allowed) <= allowed) return WordMatch::kWord;
  return WordMatch::kNone;
}

// Whether every word of `some` stands for its own word of `all` (each used
// once) and at least one of them is more than an initial.
bool AllStandFor(const std::vector<std::string>& some, const std::vector<std::string>& all) {
  if (some.empty() || some.size() > all.size()) return false;
  std::vector<bool> used(all.size(), false);
  bool a_word = false;
  // Whole words first, so an initial does not take the word another word needs.
  std::vector<size_t> order(some.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return some[x].size() > some[y].size(); });
  for (size_t i : order) {
    bool found = false;
    for (WordMatch want : {WordMatch::kWord, WordMatch::kInitial}) {
      for (size_t j = 0; j < all.size() && !found; ++j) {
        if (used[j] || MatchWord(some[i], all[j]) != want) continue;
        used[j] = found = true;
        a_word = a_word || want == WordMatch::kWord;
      }
      if (found) break;
    }
    if (!found) return false;
  }
  return a_word;
}

}  // namespace

bool MentionsWord(std::string_view text, std::string_view word) {
  if (word.empty() || word.size() > text.size()) return false;
  auto eq = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  };
  for (size_t at = 0; at + word.size() <= text.size(); ++at) {
    if (!std::equal(word.begin(), word.end(), text.begin() + at, eq)) continue;
    const bool before_ok = at == 0 || !IsWordChar(text[at - 1]);
    const bool after_ok = at + word.size() == text.size() || !IsWordChar(text[at + word.size()]);
    if (before_ok && after_ok) return true;
  }
  return false;
}

MatchScore ScoreMatch(const DepositLine& line, const MatchLedger& ledger, int64_t near_days) {
  MatchScore out;
  if (line.currency != ledger.currency) {
    out.reasons.push_back(absl::StrCat("currency ", line.currency, " is not the ledger's ", ledger.currency));
    return out;
  }
  if (MentionsWord(line.reference_text, ledger.ledger_id)) {
    out.reference_matches = true;
    out.reasons.push_back(absl::StrCat("reference names ledger ", ledger.ledger_id, " (+40)"));
  } else {
    for (const OpenItem& item : ledger.open_items) {
      if (item.number.size() < 3 || !MentionsWord(line.reference_text, item.number)) continue;
      out.reference_matches = true;
      out.installment_id = item.installment_id;
      out.reasons.push_back(absl::StrCat("reference names installment ", item.number, " (+40)"));
      break;
    }
  }
  if (out.reference_matches) out.score += 40;

  const std::vector<std::string> payer = NameKey(line.payer_name), account = NameKey(ledger.account_name);
  if (!payer.empty() && payer == account) {
    out.score += 25;
    out.reasons.push_back("payer is the account name (+25)");
  } else if (AllStandFor(payer, account) || AllStandFor(account, payer)) {
    out.score += 15;
    out.reasons.push_back("payer resembles the account name (+15)");
  }

  int64_t total = 0;
  const OpenItem* equal = nullptr;
  for (const OpenItem& item : ledger.open_items) {
    total += item.total();
    if (equal == nullptr && item.total() == line.amount_minor) equal = &item;
  }
  if (equal != nullptr) {
    out.score += 20;
    out.reasons.push_back(absl::StrCat("amount equals installment ", equal->number, "'s balance (+20)"));
    if (out.installment_id.empty()) out.installment_id = equal->installment_id;
  } else if (total > 0 && total == line.amount_minor) {
    out.score += 20;
    out.reasons.push_back("amount equals the total due (+20)");
  }

  for (const OpenItem& item : ledger.open_items) {
    const int64_t apart = line.deposit_date > item.due_date ? line.deposit_date - item.due_date
                                                             : item.due_date - line.deposit_date;
    if (apart > near_days) continue;
    out.score += 15;
    out.reasons.push_back(absl::StrCat("deposit date is ", apart, " day(s) from installment ", item.number,
                                       "'s due date (+15)"));
    break;
  }
  return out;
}

bool ShouldAutoPost(const std::vector<MatchScore>& ranked, int threshold) {
  if (ranked.empty() || !ranked[0].reference_matches || ranked[0].score <= threshold) return false;
  return ranked.size() == 1 || ranked[1].score < ranked[0].score;
}

}  // namespace careops::collections
