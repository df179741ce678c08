#include "services/collections/dunning_rules.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/money.h"
#include "common/status.h"
#include "common/text.h"

namespace careops::collections {
namespace {

absl::Status Bad(std::string_view why) { return InvalidArgument("dunning_ladder", why); }

std::optional<RungKind> KindNamed(std::string_view name) {
  if (name == "reminder") return RungKind::kReminder;
  if (name == "balance") return RungKind::kBalanceReminder;
  if (name == "first") return RungKind::kFirst;
  if (name == "second") return RungKind::kSecond;
  if (name == "third") return RungKind::kThird;
  if (name == "noc") return RungKind::kCancellation;
  return std::nullopt;
}

// The installments that still owe something.
std::set<std::string> Owing(const std::vector<OpenItem>& open_items) {
  std::set<std::string> owing;
  for (const OpenItem& item : open_items) {
    if (item.total() > 0) owing.insert(item.installment_id);
  }
  return owing;
}

}  // namespace

std::string_view RungKindName(RungKind kind) {
  switch (kind) {
    case RungKind::kReminder: return "REMINDER";
    case RungKind::kFirst: return "FIRST_NOTICE";
    case RungKind::kSecond: return "SECOND_NOTICE";
    case RungKind::kThird: return "THIRD_NOTICE";
    case RungKind::kCancellation: return "NOTICE_OF_CANCELLATION";
    case RungKind::kBalanceReminder: return "BALANCE_REMINDER";
  }
  return "FIRST_NOTICE";
}

std::optional<RungKind> ParseRungKind(std::string_view name) {
  for (RungKind k : {RungKind::kReminder, RungKind::kFirst, RungKind::kSecond, RungKind::kThird,
                     RungKind::kCancellation, RungKind::kBalanceReminder}) {
    if (RungKindName(k) == name) return k;
  }
  return std::nullopt;
}

std::string RungTitle(RungKind kind) {
  switch (kind) {
    case RungKind::kReminder: return "Payment reminder";
    case RungKind::kFirst: return "First notice";
    case RungKind::kSecond: return "Second notice";
    case RungKind::kThird: return "Third notice";
    case RungKind::kCancellation: return "Notice of Cancellation";
    case RungKind::kBalanceReminder: return "Maturing balance reminder";
  }
  return "Notice";
}

std::string Rung::name() const {
  switch (kind) {
    case RungKind::kReminder: return absl::StrCat("reminder-", day);
    case RungKind::kFirst: return "first";
    case RungKind::kSecond: return "second";
    case RungKind::kThird: return "third";
    case RungKind::kCancellation: return "noc";
    case RungKind::kBalanceReminder: return absl::StrCat("balance-", day);
  }
  return "first";
}

std::string DunningLadder::DefaultText() {
  return "reminder:7,balance:60,balance:30,balance:7,first:10,second:30:fee=50000:rate_bp=1200:spacing=7,third:60:fee=100000:rate_bp=1200:spacing=7,"
         "noc:90:spacing=7:grace=15";
}

absl::StatusOr<DunningLadder> DunningLadder::Parse(std::string_view text) {
  DunningLadder out;
  std::set<int64_t> leads, balance_leads;
  for (absl::string_view entry : absl::StrSplit(Abs(text), ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    std::vector<std::string> parts = absl::StrSplit(entry, ':');
    if (parts.size() < 2) return Bad(absl::StrCat("rung '", entry, "' is not name:day[:key=value...]"));
    std::optional<RungKind> kind = KindNamed(parts[0]);
    if (!kind) {
      return Bad(absl::StrCat("rung '", entry, "' names no rung (reminder, first, second, third, noc)"));
    }
    Rung r;
    r.kind = *kind;
    if (!absl::SimpleAtoi(parts[1], &r.day) || r.day < 1 || r.day > 3650) {
      return Bad(absl::StrCat("rung '", entry, "' has a day outside 1..3650"));
    }
    bool has_grace = false;
    for (size_t i = 2; i < parts.size(); ++i) {
      std::vector<std::string> kv = absl::StrSplit(parts[i], absl::MaxSplits('=', 1));
      int64_t v = 0;
      if (kv.size() != 2 || !absl::SimpleAtoi(kv[1], &v) || v < 0) {
        return Bad(absl::StrCat("rung '", entry, "' has a bad field '", parts[i], "' (key=non-negative integer)"));
      }
      if (kv[0] == "fee" && v <= kMaxMoneyMinor) {
        r.fee_minor = v;
      } else if (kv[0] == "rate_bp" && v <= 1'000'000) {
        r.rate_bp = v;
      } else if (kv[0] == "spacing" && v <= 3650) {
        r.spacing_days = std::max<int64_t>(v, 1);
      } else if (kv[0] == "grace" && v >= 1 && v <= 3650) {
        r.grace_days = v;
        has_grace = true;
      } else {
        return Bad(absl::StrCat("rung '", entry, "' has an unknown or out-of-range field '", parts[i],
                                "' (fee, rate_bp, spacing, grace)"));
      }
    }
    if (r.kind == RungKind::kReminder || r.kind == RungKind::kBalanceReminder) {
      if (r.fee_minor != 0 || r.rate_bp != 0 || has_grace) {
        return Bad(absl::StrCat("reminder '", entry, "' cannot carry a fee, interest or grace"));
      }
      const bool balance = r.kind == RungKind::kBalanceReminder;
      if (!(balance ? balance_leads : leads).insert(r.day).second) {
        return Bad(absl::StrCat(parts[0], " lead ", r.day, " appears twice"));
      }
      (balance ? out.balance_reminders_ : out.reminders_).push_back(r);
      continue;
    }
    if (has_grace != (r.kind == RungKind::kCancellation)) {
      return Bad(r.kind == RungKind::kCancellation ? "noc needs a grace=days field"
                                                   : absl::StrCat("rung '", entry, "': only noc has a grace"));
    }
    if (!out.notices_.empty()) {
      const Rung& prev = out.notices_.back();
      if (static_cast<int>(r.kind) <= static_cast<int>(prev.kind)) {
        return Bad(absl::StrCat("rung '", entry, "' is out of order: first, second, third, noc, each once"));
      }
      if (r.day <= prev.day) {
        return Bad(absl::StrCat("rung '", entry, "' must come more days past due than '", prev.name(), "'"));
      }
    }
    out.notices_.push_back(r);
  }
  if (out.notices_.empty()) return Bad("needs at least one notice rung (first, second, third or noc)");
  for (auto* list : {&out.reminders_, &out.balance_reminders_}) {
    std::sort(list->begin(), list->end(), [](const Rung& a, const Rung& b) { return a.day > b.day; });
  }
  return out;
}

std::string_view NoticeStateName(NoticeState s) {
  switch (s) {
    case NoticeState::kIssued: return "ISSUED";
    case NoticeState::kResolved: return "RESOLVED";
    case NoticeState::kWithdrawn: return "WITHDRAWN";
    case NoticeState::kLapsed: return "LAPSED";
  }
  return "ISSUED";
}

std::optional<NoticeState> ParseNoticeState(std::string_view name) {
  for (NoticeState s : {NoticeState::kIssued, NoticeState::kResolved, NoticeState::kWithdrawn, NoticeState::kLapsed}) {
    if (NoticeStateName(s) == name) return s;
  }
  return std::nullopt;
}

std::string LadderSubject(int episode, int sequence) { return absl::StrCat("ladder/", episode, "/", sequence); }

std::string ReminderSubject(const std::string& installment_id, int64_t lead) {
  return absl::StrCat("reminder/", installment_id, "/", lead);
}

std::string BalanceReminderSubject(const std::string& installment_id, int64_t lead) {
  return absl::StrCat("balance/", installment_id, "/", lead);
}

std::vector<std::string> ReopenedNotices(const std::vector<NoticeRecord>& notices,
                                         const std::vector<OpenItem>& open_items) {
  const std::set<std::string> owing = Owing(open_items);
  std::vector<std::string> out;
  for (const NoticeRecord& n : notices) {
    const bool withdrawn_noc = n.state == NoticeState::kWithdrawn && n.kind == RungKind::kCancellation;
    if (n.state != NoticeState::kResolved && !withdrawn_noc) continue;
    if (std::any_of(n.covered.begin(), n.covered.end(), [&](const std::string& id) { return owing.count(id) > 0; })) {
      out.push_back(n.notice_id);
    }
  }
  return out;
}

bool ResumeEpisode(int reopened_episode, int current_episode, int current_episode_notices) {
  return reopened_episode < current_episode && current_episode_notices == 0;
}

std::vector<std::string> PaidNotices(const std::vector<NoticeRecord>& notices,
                                     const std::vector<OpenItem>& open_items) {
  const std::set<std::string> owing = Owing(open_items);
  std::vector<std::string> out;
  for (const NoticeRecord& n : notices) {
    if (n.state != NoticeState::kIssued) continue;
    bool paid = std::none_of(n.covered.begin(), n.covered.end(),
                             [&](const std::string& id) { return owing.count(id) > 0; });
    if (paid) out.push_back(n.notice_id);
  }
  return out;
}

absl::StatusOr<int64_t> DunningInterest(const std::string& currency, int64_t principal_minor, int64_t rate_bp,
                                        int64_t days) {
  if (principal_minor <= 0 || rate_bp <= 0 || days <= 0) return 0;
  CAREOPS_ASSIGN_OR_RETURN(Money interest, Money(currency, principal_minor).Scale(rate_bp * days, 10000 * 365));
  return interest.minor();
}

absl::StatusOr<DunningDecision> DecideDunning(const DunningInputs& in, const DunningLadder& ladder,
                                              absl::CivilDay as_of, int64_t grace_days, const std::string& currency) {
  DunningDecision out;
  out.resolve = PaidNotices(in.notices, in.open_items);
  const std::set<std::string> resolved(out.resolve.begin(), out.resolve.end());

  // A Notice of Cancellation lapses on its grace date when still unpaid.
  for (const NoticeRecord& n : in.notices) {
    if (n.kind == RungKind::kCancellation && n.state == NoticeState::kIssued && resolved.count(n.notice_id) == 0 &&
        n.grace_until && as_of >= *n.grace_until) {
      out.lapse.push_back(n.notice_id);
    }
  }

  // Reminders for what falls due soon: instalments, and maturing balances.
  for (const OpenItem& item : in.open_items) {
    if (item.outstanding[static_cast<int>(Component::kPrincipal)] <= 0 || item.due_date <= as_of) continue;
    const bool maturing = item.kind == "BALLOON" || item.kind == "RETENTION";
    if (!maturing && item.kind != "REGULAR") continue;
    const int64_t days_to_due = item.due_date - as_of;
    const Rung* nearest = nullptr;  // reminders are largest lead first
    for (const Rung& r : maturing ? ladder.balance_reminders() : ladder.reminders()) {
      if (r.day >= days_to_due) nearest = &r;
    }
    if (nearest == nullptr) continue;
    std::string subject = maturing ? BalanceReminderSubject(item.installment_id, nearest->day)
                                   : ReminderSubject(item.installment_id, nearest->day);
    if (in.subjects_sent.count(subject) > 0) continue;
    NoticeDraft d;
    d.rung = *nearest;
    d.subject = std::move(subject);
    d.episode = in.episode;
    d.outstanding_minor = item.total();
    d.covered = {item};
    d.due_date = item.due_date;
    out.issue.push_back(std::move(d));
  }

  // The ladder: at most the next rung of the current episode.
  // Days past due from the oldest installment with a balance (collections_rules.h).
  std::optional<absl::CivilDay> oldest;
  for (const OpenItem& item : in.open_items) {
    if (item.total() > 0 && (!oldest || item.due_date < *oldest)) oldest = item.due_date;
  }
  const int64_t dpd = oldest ? DaysPastDue(*oldest, as_of, grace_days, in.pauses) : 0;
  out.days_past_due = dpd;
  std::vector<const NoticeRecord*> episode;
  for (const NoticeRecord& n : in.notices) {
    if (n.episode == in.episode && n.sequence > 0) episode.push_back(&n);
  }
  std::sort(episode.begin(), episode.end(),
            [](const NoticeRecord* a, const NoticeRecord* b) { return a->sequence < b->sequence; });
  const size_t next = episode.size();
  const bool in_episode = !in.episode_since || as_of >= *in.episode_since;
  if (next < ladder.notices().size() && dpd > 0 && in_episode) {
    const Rung& rung = ladder.notices()[next];
    const bool spaced = episode.empty() || as_of >= episode.back()->issued_on + rung.spacing_days;
    if (dpd >= rung.day && spaced) {
      NoticeDraft d;
      d.rung = rung;
      d.episode = in.episode;
      d.sequence = static_cast<int>(next) + 1;
      d.subject = LadderSubject(d.episode, d.sequence);
      d.days_past_due = dpd;
      int64_t principal = 0;
      for (const OpenItem& item : in.open_items) {
        if (item.total() <= 0 || item.due_date >= as_of) continue;
        d.covered.push_back(item);
        d.outstanding_minor += item.total();
        principal += item.outstanding[static_cast<int>(Component::kPrincipal)];
      }
      std::sort(d.covered.begin(), d.covered.end(), [](const OpenItem& a, const OpenItem& b) {
        return a.due_date != b.due_date ? a.due_date < b.due_date : a.number < b.number;
      });
      d.fee_minor = rung.fee_minor;
      CAREOPS_ASSIGN_OR_RETURN(d.interest_minor, DunningInterest(currency, principal, rung.rate_bp, dpd));
      CAREOPS_RETURN_IF_ERROR(ValidateMoney(Money(currency, d.total_minor()), "notice total"));
      if (rung.kind == RungKind::kCancellation) d.grace_until = as_of + rung.grace_days;
      out.issue.push_back(std::move(d));
    }
  }

  // Current, and nothing of the episode still owed: the episode is over.
  if (dpd == 0 && !episode.empty()) {
    bool open = false;
    for (const NoticeRecord* n : episode) {
      if (n->state == NoticeState::kIssued && resolved.count(n->notice_id) == 0) open = true;
    }
    out.close_episode = !open;
  }
  return out;
}

absl::StatusOr<std::string> RenderTemplate(std::string_view text, const std::map<std::string, std::string>& fields,
                                           std::string_view what) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find('{', i);
    if (open == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, open - i));
    size_t close = text.find('}', open);
    if (close == std::string_view::npos) return InvalidArgument(what, "has an unclosed '{'");
    std::string name(text.substr(open + 1, close - open - 1));
    auto it = fields.find(name);
    if (it == fields.end()) return InvalidArgument(what, absl::StrCat("uses an unknown field {", name, "}"));
    out.append(it->second);
    i = close + 1;
  }
  return out;
}

absl::StatusOr<std::map<RungKind, std::string>> ParseNoticeTemplates(std::string_view text) {
  std::map<RungKind, std::string> out;
  std::optional<RungKind> current;
  size_t line_no = 0;
  auto finish = [&] {
    if (!current) return;
    std::string& body = out[*current];
    if (!body.empty() && body.back() == '\n') body.pop_back();
  };
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);  // the file's last line break ends no line
  for (std::string_view line : SplitAny(text, "\n", false)) {
    ++line_no;
    std::string_view trimmed = line;
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t' || trimmed.back() == '\r')) {
      trimmed.remove_suffix(1);
    }
    if (trimmed.size() > 2 && trimmed.front() == '[' && trimmed.back() == ']') {
      finish();
      std::optional<RungKind> kind = ParseRungKind(trimmed.substr(1, trimmed.size() - 2));
      if (!kind) {
        return InvalidArgument("notice_templates_file",
                               absl::StrCat("line ", line_no, ": unknown rung kind ", std::string(trimmed)));
      }
      if (out.count(*kind) > 0) {
        return InvalidArgument("notice_templates_file",
                               absl::StrCat("line ", line_no, ": ", std::string(trimmed), " repeats"));
      }
      current = kind;
      out[*kind];
      continue;
    }
    if (!current) {
      if (trimmed.empty() || trimmed.front() == '#') continue;
      return InvalidArgument("notice_templates_file",
                             absl::StrCat("line ", line_no, ": text before the first [RUNG] header"));
    }
    absl::StrAppend(&out[*current], Abs(line), "\n");
  }
  finish();
  return out;
}

std::string_view DefaultNoticeTemplate(RungKind kind) {
  switch (kind) {
    case RungKind::kReminder:
      return "Dear {account_name},\n\nThis is a friendly reminder that installment {installments} of {outstanding} "
             "falls due on {due_date}. Please make sure it is paid on time.\n";
    case RungKind::kCancellation:
      return "Dear {account_name},\n\nNOTICE OF CANCELLATION ({as_of})\n\nYour account is {days_past_due} days past "
             "due and has been suspended. Outstanding: {outstanding}; fee: {fee}; interest: {interest}; total due: "
             "{total} (installments {installments}). Unless the total is paid by {grace_until}, your account will "
             "be cancelled on that date.\n";
    case RungKind::kBalanceReminder:
      return "Dear {account_name},\n\nYour balance {installments} of {outstanding} matures on {due_date}. To "
             "avoid a large payment at once, you may pay it ahead of time; ask us about the pre-payment "
             "program.\n";
    default:
      return "Dear {account_name},\n\n{rung_title} ({as_of})\n\nYour account is {days_past_due} days past due. "
             "Outstanding: {outstanding}; fee: {fee}; interest: {interest}; total due: {total} (installments "
             "{installments}). Please pay the total due at once.\n";
  }
}

const std::set<std::string>& NoticeTemplateFields() {
  static const std::set<std::string> fields = {"account_name", "rung_title", "as_of", "days_past_due",
                                               "outstanding", "fee", "interest", "total", "installments",
                                               "due_date", "grace_until"};
  return fields;
}

}  // namespace careops::collections
