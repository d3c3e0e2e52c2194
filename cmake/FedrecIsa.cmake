# The instruction set of the build (core/isa.h): chosen once here, for every
# room, never by runtime dispatch, so that one binary computes bitwise the same
# model on every machine that runs it.
#
#   FEDREC_ISA=auto       (default) x86-64-v3 when the build machine has AVX2,
#                         FMA, BMI1/2, F16C, LZCNT and MOVBE, else baseline
#   FEDREC_ISA=baseline   the compiler's default target (x86-64 on Debian)
#   FEDREC_ISA=x86-64-v3  -march=x86-64-v3 (Haswell and later, Zen and later)
#   FEDREC_ISA=native     -march=native (this machine's CPU; not portable)
#
# Sets FEDREC_ISA_RESOLVED, FEDREC_ISA_FLAGS (for project code) and
# FEDREC_ISA_BASELINE_FLAGS (for the code that checks the CPU at startup).

set(FEDREC_ISA "auto" CACHE STRING "Instruction set: auto, baseline, x86-64-v3 or native")
set_property(CACHE FEDREC_ISA PROPERTY STRINGS auto baseline x86-64-v3 native)

set(_fedrec_x86 FALSE)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_fedrec_x86 TRUE)
endif()

set(FEDREC_ISA_RESOLVED "${FEDREC_ISA}")
if(FEDREC_ISA STREQUAL "auto")
  set(FEDREC_ISA_RESOLVED baseline)
  if(_fedrec_x86 AND NOT CMAKE_CROSSCOMPILING AND EXISTS /proc/cpuinfo)
    file(STRINGS /proc/cpuinfo _fedrec_flags REGEX "^flags" LIMIT_COUNT 1)
    set(_fedrec_v3 TRUE)
    # /proc/cpuinfo's names; the kernel lists AVX only when it saves YMM state.
    foreach(f avx avx2 bmi1 bmi2 f16c fma abm movbe)
      if(NOT _fedrec_flags MATCHES "[ \t]${f}( |$)")
        set(_fedrec_v3 FALSE)
      endif()
    endforeach()
    if(_fedrec_v3)
      set(FEDREC_ISA_RESOLVED x86-64-v3)
    endif()
  endif()
elseif(NOT FEDREC_ISA MATCHES "^(baseline|x86-64-v3|native)$")
  message(FATAL_ERROR "FEDREC_ISA=${FEDREC_ISA}: use auto, baseline, x86-64-v3 or native")
elseif(NOT _fedrec_x86 AND NOT FEDREC_ISA STREQUAL "baseline")
  message(FATAL_ERROR "FEDREC_ISA=${FEDREC_ISA} is for x86-64; this is ${CMAKE_SYSTEM_PROCESSOR}: "
    "use baseline")
endif()

set(FEDREC_ISA_FLAGS "")
set(FEDREC_ISA_BASELINE_FLAGS "")
if(FEDREC_ISA_RESOLVED STREQUAL "x86-64-v3")
  set(FEDREC_ISA_FLAGS -march=x86-64-v3)
elseif(FEDREC_ISA_RESOLVED STREQUAL "native")
  set(FEDREC_ISA_FLAGS -march=native)
endif()
if(FEDREC_ISA_FLAGS)
  set(FEDREC_ISA_BASELINE_FLAGS -march=x86-64 -mtune=generic)
endif()

# The features the flags enable beyond the baseline, from the compiler's own
# predefined macros (what it may really emit), by their usual names.
set(FEDREC_ISA_FEATURES "")
if(FEDREC_ISA_FLAGS)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} ${FEDREC_ISA_FLAGS} -dM -E -x c++ /dev/null
    OUTPUT_VARIABLE _fedrec_macros RESULT_VARIABLE _fedrec_rc)
  if(NOT _fedrec_rc EQUAL 0)
    message(FATAL_ERROR "FEDREC_ISA=${FEDREC_ISA_RESOLVED}: ${CMAKE_CXX_COMPILER} "
      "does not accept ${FEDREC_ISA_FLAGS}")
  endif()
  foreach(pair SSE3:sse3 SSSE3:ssse3 SSE4_1:sse4.1 SSE4_2:sse4.2 POPCNT:popcnt AVX:avx AVX2:avx2
               BMI:bmi BMI2:bmi2 F16C:f16c FMA:fma LZCNT:lzcnt MOVBE:movbe AVX512F:avx512f
               AVX512DQ:avx512dq AVX512CD:avx512cd AVX512BW:avx512bw AVX512VL:avx512vl)
    string(REPLACE ":" ";" pair "${pair}")
    list(GET pair 0 macro)
    list(GET pair 1 name)
    if(_fedrec_macros MATCHES "#define __${macro}__ 1")
      string(APPEND FEDREC_ISA_FEATURES " ${name}")
    endif()
  endforeach()
  string(STRIP "${FEDREC_ISA_FEATURES}" FEDREC_ISA_FEATURES)
endif()
message(STATUS "fedrec: ISA ${FEDREC_ISA_RESOLVED} (FEDREC_ISA=${FEDREC_ISA}): "
  "${FEDREC_ISA_FEATURES}")
