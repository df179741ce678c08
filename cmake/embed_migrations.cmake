# Script mode: writes a C++ file returning the migrations in FILES, in order.
# The function is named careops_migrations_<FUNC>() and declared by common/migrations.h users.
set(body "")
foreach(f ${FILES})
  get_filename_component(name "${f}" NAME)
  string(REGEX MATCH "^V([0-9]+)__" _ "${name}")
  # Without its leading zeros: "010" as a C++ literal would be octal 8.
  string(REGEX REPLACE "^0+([0-9])" "\\1" version "${CMAKE_MATCH_1}")
  file(READ "${f}" sql)
  # Raw string literal with a delimiter no migration uses.
  string(APPEND body "    {${version}, \"${name}\", R\"careops_sql(${sql})careops_sql\"},\n")
endforeach()
file(WRITE "${OUT}.tmp"
"// Generated from the schema folder by cmake/embed_migrations.cmake. Do not edit.
#include <vector>
#include \"common/migrations.h\"
namespace careops {
std::vector<Migration> ${FUNC}() {
  return {
${body}  };
}
}  // namespace careops
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
