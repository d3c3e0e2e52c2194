# Every third-party dependency is found here, once, so that rooms only name
# imported targets.
find_package(Threads REQUIRED)
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(MPI REQUIRED COMPONENTS C)
find_package(Protobuf REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(absl REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(tomlplusplus REQUIRED IMPORTED_TARGET tomlplusplus)
if(FEDREC_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(FEDREC_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# CUDA: AUTO builds the CUDA translation units when the toolkit is found,
# ON requires it, OFF skips it. Tests of the CUDA path skip without a GPU.
set(FEDREC_HAVE_CUDA OFF)
if(NOT FEDREC_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # A100 (sm_80) and H100 (sm_90) unless the user chose; set before
    # enable_language so CMake's own default (the compiler's) does not win.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit)
  endif()
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND)
    set(FEDREC_HAVE_CUDA ON)
  elseif(FEDREC_CUDA STREQUAL "ON")
    message(FATAL_ERROR "FEDREC_CUDA=ON but no CUDA toolkit was found")
  endif()
endif()
message(STATUS "fedrec: CUDA backend ${FEDREC_HAVE_CUDA}")

# NCCL (backend.comm = "nccl", comm/nccl_collective.h): with the CUDA toolkit
# and NCCL's header. The library is loaded at run time, only by a run that
# asks for NCCL, so it is not needed to build or to run anything else.
set(FEDREC_HAVE_NCCL OFF)
if(FEDREC_HAVE_CUDA)
  find_path(FEDREC_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  if(FEDREC_NCCL_INCLUDE_DIR)
    set(FEDREC_HAVE_NCCL ON)
  endif()
endif()
message(STATUS "fedrec: NCCL ${FEDREC_HAVE_NCCL}")
