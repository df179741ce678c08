// The one validator for what a caller sends: text fields, identifier lists and
// etags. Every service checks request fields with these, so a limit means the
// same thing everywhere and every refusal reads the same way.
//
// Every check returns OK or INVALID_ARGUMENT with the message `field: rule`
// (common/status.h InvalidArgument), e.g. "person.given_name: must not be empty".
//
//   - Lengths count characters (Unicode code points of UTF-8 text), as the
//     messages say; text that is not valid UTF-8 is refused.
//   - Control characters (C0, DEL, C1) are refused. A field is one of two kinds:
//     a single line (ids, codes, names, references: no control character at all)
//     or multi-line free text (notes, reasons, findings: "\n" and "\t" allowed).
//   - Required text must hold a visible character: text made only of blanks
//     (Unicode spaces such as U+00A0, U+3000) or zero-width characters (U+200B..
//     U+200D, U+2060, U+FEFF) counts as empty.
//   - A message never repeats more than a short prefix of what the caller sent:
//     Quote() is the one way to put a caller's value into any status message.
//   - Etags are required on every update and transition; ParseEtag() refuses an
//     empty or malformed one, and the store answers ABORTED when it is stale.
#pragma once

#include <google/protobuf/repeated_field.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace careops {

enum class TextKind {
  kLine,       // one line: no control characters
  kMultiLine,  // free text: "\n" and "\t" allowed, other control characters not
};

// Code points in `text`; nullopt when it is not valid UTF-8 (overlong forms,
// surrogates and values above U+10FFFF are invalid).
std::optional<size_t> Utf8Length(std::string_view text);

// True when `text` (valid UTF-8) has a character that is neither a blank nor
// zero-width.
bool HasVisibleCharacter(std::string_view text);

// `value` for a status message: in single quotes, at most kQuotedChars
// characters followed by "…" when longer, control characters and invalid UTF-8
// bytes shown as \xNN. Never longer than about 4 * kQuotedChars + 8 bytes.
inline constexpr size_t kQuotedChars = 32;
std::string Quote(std::string_view value);

// "parent.child", or "child" when parent is empty; and "list[3]".
std::string SubField(std::string_view parent, std::string_view child);
std::string ItemField(std::string_view list, int index);

// An identifier, code or reference (one line). Required: "is required" when
// empty or blank. Optional: empty is fine.
absl::Status RequireId(std::string_view value, std::string_view field, size_t max_chars);
absl::Status OptionalId(std::string_view value, std::string_view field, size_t max_chars);

// Text a person reads (a name, a reason, notes). Required: "must not be empty"
// when empty or blank. Optional: empty is fine, blank is not.
absl::Status RequireText(std::string_view value, std::string_view field, size_t max_chars,
                         TextKind kind = TextKind::kLine);
absl::Status OptionalText(std::string_view value, std::string_view field, size_t max_chars,
                          TextKind kind = TextKind::kLine);

// A list of identifiers (codes, references): at most `max_items`, each 1 to
// `max_chars` characters on one line with a visible character.
absl::Status ValidateIdList(const google::protobuf::RepeatedPtrField<std::string>& items, std::string_view field,
                            size_t max_items, size_t max_chars);

// The version an etag this service issued stands for (a decimal >= 1).
// INVALID_ARGUMENT naming `field` when it is empty or not such an etag.
absl::StatusOr<int64_t> ParseEtag(std::string_view etag, std::string_view field = "etag");

}  // namespace careops
