# Project-wide compile settings applied per target (no global add_definitions).

set(_fedrec_san_flags "")
if(FEDREC_SANITIZE)
  string(REPLACE "," ";" _sans "${FEDREC_SANITIZE}")
  foreach(s IN LISTS _sans)
    list(APPEND _fedrec_san_flags "-fsanitize=${s}")
  endforeach()
  list(APPEND _fedrec_san_flags -fno-omit-frame-pointer -fno-sanitize-recover=all)
endif()
# Fuzz builds: every room is instrumented for libFuzzer's coverage feedback;
# only the fuzz_<name> executables link libFuzzer's main (tests/fuzz).
if(FEDREC_FUZZ)
  list(APPEND _fedrec_san_flags -fsanitize=fuzzer-no-link)
endif()

# fedrec_target_defaults(<target>): warnings as errors on project code,
# sanitizers when asked, Open MPI's C++ bindings off.
function(fedrec_target_defaults target)
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    return()
  endif()
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Werror -Wno-unused-parameter>)
  # GCC 12 at -O3 reports std::string concatenation in libstdc++ as a
  # -Wrestrict overlap (GCC bug 105329, a false positive).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-restrict>)
  endif()
  target_compile_definitions(${target} PRIVATE OMPI_SKIP_MPICXX=1)
  if(FEDREC_ISA_FLAGS)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${FEDREC_ISA_FLAGS}>)
  endif()
  # Every program checks at startup that the CPU has the build's ISA
  # (core/isa_guard.cc).
  if(_type MATCHES "^(EXECUTABLE|MODULE_LIBRARY|SHARED_LIBRARY)$" AND TARGET fedrec_isa_guard)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:fedrec_isa_guard>)
    target_link_libraries(${target} PRIVATE fedrec_core)
  endif()
  if(_fedrec_san_flags)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${_fedrec_san_flags}>)
    target_link_options(${target} PRIVATE ${_fedrec_san_flags})
  endif()
endfunction()

# fedrec_room(<name> SOURCES ... DEPS ...): one library per room.
function(fedrec_room name)
  cmake_parse_arguments(R "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(fedrec_${name} STATIC ${R_SOURCES})
  target_include_directories(fedrec_${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(fedrec_${name} PUBLIC ${R_DEPS} PRIVATE ${R_PRIVATE_DEPS})
  fedrec_target_defaults(fedrec_${name})
endfunction()

# fedrec_test(<name> LABELS ... SOURCES ... DEPS ...): one gtest binary.
function(fedrec_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  fedrec_target_defaults(${name})
  include(GoogleTest)
  gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}"
    ENVIRONMENT "FEDREC_BIN=$<TARGET_FILE:fedrec>"
    DISCOVERY_TIMEOUT 60)
endfunction()
