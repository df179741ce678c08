#include "common/enum_codec.h"

#include <cctype>

namespace careops {

std::string EnumValuePrefix(const google::protobuf::EnumDescriptor& d) {
  std::string out;
  const std::string& name = d.name();
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (std::isupper(c) && i > 0) out.push_back('_');
    out.push_back(static_cast<char>(std::toupper(c)));
  }
  out.push_back('_');
  return out;
}

}  // namespace careops
