#include "common/validation.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/text.h"

namespace careops {
namespace {

constexpr char32_t kInvalid = 0xFFFFFFFF;

// Decodes the code point at text[*pos] and advances *pos past it; kInvalid (and
// one byte) for a malformed, overlong or surrogate sequence.
char32_t NextCodePoint(std::string_view text, size_t* pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(*pos);
  size_t len;
  char32_t cp;
  if (b0 < 0x80) {
    ++*pos;
    return b0;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    ++*pos;
    return kInvalid;
  }
  if (*pos + len > text.size()) {
    ++*pos;
    return kInvalid;
  }
  for (size_t i = 1; i < len; ++i) {
    const unsigned char b = byte(*pos + i);
    if ((b & 0xC0) != 0x80) {
      ++*pos;
      return kInvalid;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  const char32_t min_for_len = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
  if (cp < min_for_len || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*pos;
    return kInvalid;
  }
  *pos += len;
  return cp;
}

bool IsControl(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Unicode White_Space plus the zero-width characters that render as nothing.
bool IsBlankOrInvisible(char32_t cp) {
  switch (cp) {
    case 0x0009: case 0x000A: case 0x000B: case 0x000C: case 0x000D: case 0x0020:
    case 0x0085: case 0x00A0: case 0x1680: case 0x180E: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
    case 0x200B: case 0x200C: case 0x200D: case 0x2060: case 0xFEFF:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

// The length and character rules shared by every text check; `value` is not empty.
absl::Status CheckCharacters(std::string_view value, std::string_view field, size_t max_chars, TextKind kind) {
  size_t count = 0;
  size_t pos = 0;
  while (pos < value.size()) {
    const char32_t cp = NextCodePoint(value, &pos);
    if (cp == kInvalid) return InvalidArgument(field, "must be valid UTF-8 text");
    if (IsControl(cp) && !(kind == TextKind::kMultiLine && (cp == '\n' || cp == '\t'))) {
      return InvalidArgument(field, kind == TextKind::kMultiLine
                                        ? "must not contain control characters other than line breaks and tabs"
                                        : "must not contain control characters or line breaks");
    }
    ++count;
  }
  if (count > max_chars) return InvalidArgument(field, absl::StrCat("must be at most ", max_chars, " characters"));
  return absl::OkStatus();
}

}  // namespace

std::optional<size_t> Utf8Length(std::string_view text) {
  size_t count = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (NextCodePoint(text, &pos) == kInvalid) return std::nullopt;
    ++count;
  }
  return count;
}

bool HasVisibleCharacter(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const char32_t cp = NextCodePoint(text, &pos);
    if (cp != kInvalid && !IsBlankOrInvisible(cp) && !IsControl(cp)) return true;
  }
  return false;
}

std::string Quote(std::string_view value) {
  std::string out = "'";
  size_t pos = 0;
  for (size_t chars = 0; pos < value.size() && chars < kQuotedChars; ++chars) {
    const size_t start = pos;
    const char32_t cp = NextCodePoint(value, &pos);
    if (cp == kInvalid || IsControl(cp)) {
      for (size_t i = start; i < pos; ++i) absl::StrAppendFormat(&out, "\\x%02X", static_cast<unsigned char>(value[i]));
    } else {
      out.append(value.substr(start, pos - start));
    }
  }
  if (pos < value.size()) out += "…";
  out += "'";
  return out;
}

std::string SubField(std::string_view parent, std::string_view child) {
  return parent.empty() ? std::string(child) : absl::StrCat(Abs(parent), ".", Abs(child));
}

std::string ItemField(std::string_view list, int index) { return absl::StrCat(Abs(list), "[", index, "]"); }

absl::Status RequireId(std::string_view value, std::string_view field, size_t max_chars) {
  if (value.empty()) return InvalidArgument(field, "is required");
  CAREOPS_RETURN_IF_ERROR(CheckCharacters(value, field, max_chars, TextKind::kLine));
  if (!HasVisibleCharacter(value)) return InvalidArgument(field, "is required");
  return absl::OkStatus();
}

absl::Status OptionalId(std::string_view value, std::string_view field, size_t max_chars) {
  if (value.empty()) return absl::OkStatus();
  return RequireId(value, field, max_chars);
}

absl::Status RequireText(std::string_view value, std::string_view field, size_t max_chars, TextKind kind) {
  if (value.empty()) return InvalidArgument(field, "must not be empty");
  CAREOPS_RETURN_IF_ERROR(CheckCharacters(value, field, max_chars, kind));
  if (!HasVisibleCharacter(value)) return InvalidArgument(field, "must not be empty");
  return absl::OkStatus();
}

absl::Status OptionalText(std::string_view value, std::string_view field, size_t max_chars, TextKind kind) {
  if (value.empty()) return absl::OkStatus();
  CAREOPS_RETURN_IF_ERROR(CheckCharacters(value, field, max_chars, kind));
  if (!HasVisibleCharacter(value)) return InvalidArgument(field, "must be empty or have a visible character");
  return absl::OkStatus();
}

absl::Status ValidateIdList(const google::protobuf::RepeatedPtrField<std::string>& items, std::string_view field,
                            size_t max_items, size_t max_chars) {
  if (static_cast<size_t>(items.size()) > max_items) {
    return InvalidArgument(field, absl::StrCat("must have at most ", max_items, " entries"));
  }
  for (int i = 0; i < items.size(); ++i) {
    CAREOPS_RETURN_IF_ERROR(RequireId(items[i], ItemField(field, i), max_chars));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseEtag(std::string_view etag, std::string_view field) {
  if (etag.empty()) return InvalidArgument(field, "is required (send the etag from your last read)");
  int64_t version = 0;
  if (!ParseInt(etag, &version) || version < 1) {
    return InvalidArgument(field, absl::StrCat(Quote(etag), " is not an etag this service issued"));
  }
  return version;
}

}  // namespace careops
