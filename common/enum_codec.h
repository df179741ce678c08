// One enum codec for every careops service: proto enum values <-> the short
// names stored in columns and used as metric labels.
//
// careops protos follow the AIP convention: every value of `enum ClaimStatus` is
// prefixed with the type's name in UPPER_SNAKE (`CLAIM_STATUS_IN_REVIEW`), and 0
// is `..._UNSPECIFIED`. The short name is the value's name without that prefix
// (`IN_REVIEW`), derived from the descriptor, so no caller spells a prefix:
//
//   st.setString(4, EnumShortName(row.kind()));                  // "BALLOON"
//   row.set_kind(EnumFromShortName<v1::InstallmentKind>(text));  // INSTALLMENT_KIND_BALLOON
//   counter.Add({{"kind", EnumLabel(row.kind())}});              // "balloon"
//
// Unknown numbers give "" and unknown names give the zero (UNSPECIFIED) value,
// so a bad stored value reads as unspecified instead of failing the whole read.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/generated_enum_reflection.h>

#include <string>
#include <string_view>

#include "absl/strings/ascii.h"

namespace careops {

// "ClaimStatus" -> "CLAIM_STATUS_".
std::string EnumValuePrefix(const google::protobuf::EnumDescriptor& d);

template <typename E>
const std::string& EnumPrefixOf() {
  static const std::string prefix = EnumValuePrefix(*google::protobuf::GetEnumDescriptor<E>());
  return prefix;
}

// The value's name without its type prefix; "" for a number the enum lacks.
template <typename E>
std::string EnumShortName(E value) {
  const auto* v = google::protobuf::GetEnumDescriptor<E>()->FindValueByNumber(static_cast<int>(value));
  if (v == nullptr) return "";
  std::string_view name = v->name();
  const std::string& prefix = EnumPrefixOf<E>();
  if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  return std::string(name);
}

// The value named `short_name`; the zero value when there is none.
template <typename E>
E EnumFromShortName(std::string_view short_name) {
  const auto* v =
      google::protobuf::GetEnumDescriptor<E>()->FindValueByName(EnumPrefixOf<E>() + std::string(short_name));
  return static_cast<E>(v ? v->number() : 0);
}

// The lower-case label of a value, for metric labels, audit actions and messages
// ("in_review", "plan_change"); "" for a number the enum lacks. Columns store the
// short name itself.
template <typename E>
std::string EnumLabel(E value) {
  return absl::AsciiStrToLower(EnumShortName(value));
}

}  // namespace careops
