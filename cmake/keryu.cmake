# keryu_add_module(<name> SOURCES <files...> [LIBS <targets...>])
# Builds <name>.so into lib/keryu/ with hidden visibility: the only symbol
# it exports is the descriptor (KERYU_EXPORT). -z defs proves that a module
# needs no symbol from the kernel binary.
function(keryu_add_module name)
  cmake_parse_arguments(M "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${M_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${KERYU_MODULE_OUTPUT_DIR})
  target_link_libraries(${name} PRIVATE keryu_headers keryu_events ${M_LIBS})
  if(NOT KERYU_SANITIZE)
    target_link_options(${name} PRIVATE -Wl,-z,defs)
  endif()
endfunction()

# keryu_add_unit_test(<name> SOURCES <files...> [LIBS <targets...>])
function(keryu_add_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE PkgConfig::CMOCKA keryu_headers ${T_LIBS})
  add_test(NAME unit.${name} COMMAND ${name})
  set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 60)
endfunction()
