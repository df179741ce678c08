# Helpers shared by every careops target.

# careops_proto_library(<target> PROTOS <files relative to proto/> [DEPS <targets>])
# Generates C++ message and gRPC code for the given protos into the build tree.
function(careops_proto_library target)
  cmake_parse_arguments(ARG "" "" "PROTOS;DEPS" ${ARGN})
  set(proto_root "${PROJECT_SOURCE_DIR}/proto")
  set(out_root "${PROJECT_BINARY_DIR}/gen")
  set(srcs)
  foreach(rel ${ARG_PROTOS})
    string(REGEX REPLACE "\\.proto$" "" stem "${rel}")
    set(gen "${out_root}/${stem}.pb.cc" "${out_root}/${stem}.pb.h"
            "${out_root}/${stem}.grpc.pb.cc" "${out_root}/${stem}.grpc.pb.h")
    add_custom_command(
      OUTPUT ${gen}
      COMMAND ${CMAKE_COMMAND} -E make_directory "${out_root}"
      COMMAND protobuf::protoc
        --proto_path=${proto_root}
        --cpp_out=${out_root}
        --grpc_out=${out_root}
        --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
        "${proto_root}/${rel}"
      DEPENDS "${proto_root}/${rel}" protobuf::protoc gRPC::grpc_cpp_plugin
      COMMENT "protoc ${rel}"
      VERBATIM)
    list(APPEND srcs ${gen})
  endforeach()
  add_library(${target} STATIC ${srcs})
  target_include_directories(${target} PUBLIC "${out_root}")
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++ ${ARG_DEPS})
endfunction()

# careops_embed_migrations(<target> [<dir>])
# Compiles the runtime tables (common/schema: V001, audit trail and request log,
# and later shared changes V901 and up) and every V<NNN>__<name>.sql file under
# <dir> (V002..V899) into the binary, so a service carries its whole schema and
# needs no files at run time. Migrate() applies them in version order, so a
# shared V901 runs after the service's own V002..V899.
function(careops_embed_migrations target)
  file(GLOB sql_files CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/common/schema/V*__*.sql")
  if(ARGC GREATER 1)
    file(GLOB service_files CONFIGURE_DEPENDS "${ARGV1}/V*__*.sql")
    list(SORT service_files)
    list(APPEND sql_files ${service_files})
  endif()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}_migrations.cc")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DFUNC=${target}
            "-DFILES=${sql_files}" -P "${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake"
    DEPENDS ${sql_files} "${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake"
    COMMENT "embedding migrations for ${target}"
    VERBATIM)
  add_library(${target} STATIC "${out}")
  target_link_libraries(${target} PUBLIC careops_common)
endfunction()

# careops_test(<name> SOURCES ... LIBS ... [LABELS ...])
function(careops_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
