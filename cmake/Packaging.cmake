# `cmake --install BUILD --prefix P` and `cpack -G DEB` (README "Install").
# Included last from the top-level CMakeLists.txt, once every target exists.
#
#   P/bin/fedrec
#   P/<FEDREC_INSTALL_PYTHONDIR>/fedrec/      the Python package, when _fedrec is built
#   P/share/doc/fedrec/                       README.md, docs/, examples/
#   P/share/fedrec/scripts/                   plot_run.py, plot_sweep.py, slurm/

include(GNUInstallDirs)

# Debian's python3 looks in /usr/lib/python3/dist-packages (not the
# versioned site-packages), whatever its minor version.
set(FEDREC_INSTALL_PYTHONDIR "lib/python3/dist-packages" CACHE STRING
  "Where the Python package fedrec is installed, relative to the prefix (or absolute)")
set(FEDREC_INSTALL_SCRIPTSDIR "${CMAKE_INSTALL_DATADIR}/fedrec/scripts")

# The room libraries are static: the binary and the module carry them, so
# nothing of the project but these two files is needed at run time. They are
# linked without any RUNPATH, in the build tree too, and installed as built:
# CMake's install-time RPATH edit fails on Debian 12 (it expects the trailing
# ':' it gave the linker, which binutils 2.40 drops), and the only entry it
# would remove is Open MPI's library directory, whose libmpi.so.40 the loader
# finds through /usr/lib/<multiarch>/ anyway.
set_target_properties(fedrec PROPERTIES BUILD_WITH_INSTALL_RPATH ON)
install(TARGETS fedrec RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The CUDA plugin (models/cuda/cuda_plugin.h looks in <bin>/../lib/fedrec).
if(TARGET fedrec_cuda_plugin)
  install(TARGETS fedrec_cuda_plugin LIBRARY DESTINATION lib/fedrec)
endif()

if(TARGET _fedrec)
  set_target_properties(_fedrec PROPERTIES BUILD_WITH_INSTALL_RPATH ON)
  install(TARGETS _fedrec LIBRARY DESTINATION ${FEDREC_INSTALL_PYTHONDIR}/fedrec)
  file(GLOB _fedrec_py CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/python/fedrec/*.py")
  install(FILES ${_fedrec_py} "${PROJECT_SOURCE_DIR}/python/fedrec/py.typed"
    DESTINATION ${FEDREC_INSTALL_PYTHONDIR}/fedrec)
endif()

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES aggregation/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/aggregation)
file(GLOB _fedrec_docs CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/docs/*.md")
install(FILES ${_fedrec_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
install(DIRECTORY docs/img DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
file(GLOB _fedrec_examples CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/examples/*.toml")
install(FILES ${_fedrec_examples} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(PROGRAMS examples/python_quickstart.py DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

install(PROGRAMS scripts/plot_run.py scripts/plot_sweep.py DESTINATION ${FEDREC_INSTALL_SCRIPTSDIR})
install(PROGRAMS scripts/slurm/launch.sh scripts/slurm/fedrec.sbatch
  DESTINATION ${FEDREC_INSTALL_SCRIPTSDIR}/slurm)
install(FILES scripts/slurm/README.md scripts/slurm/hosts.example
  DESTINATION ${FEDREC_INSTALL_SCRIPTSDIR}/slurm)

# The Debian package.
set(FEDREC_PACKAGE_MAINTAINER "fedrec developers <fedrec@localhost>" CACHE STRING
  "Maintainer field of the Debian package")
set(CPACK_PACKAGE_NAME fedrec)
set(CPACK_PACKAGE_VENDOR "fedrec")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "federated recommender training with secure aggregation and differential privacy")
# The synopsis is the summary; CPack indents these lines and turns the empty
# one into Debian's " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "fedrec trains sequential recommenders (SASRec, GRU4Rec, matrix factorisation)
by federated learning over threads or MPI ranks, with secure aggregation,
user-level differential privacy and a privacy accountant (RDP, PLD).

This package holds the fedrec command, the Python package fedrec (when it
was built), the documentation and examples, and the plotting and Slurm
scripts in /usr/share/fedrec/scripts.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${FEDREC_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Library dependencies from dpkg-shlibdeps (package dpkg-dev), plus the
# interpreter of the module and its one Python dependency.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(_fedrec_python_depends "python3")
if(TARGET _fedrec)
  # The module is built for one interpreter (e.g. .cpython-311-...).
  get_target_property(_fedrec_suffix _fedrec SUFFIX)
  if(_fedrec_suffix MATCHES "cpython-3([0-9]+)")
    math(EXPR _fedrec_next "${CMAKE_MATCH_1} + 1")
    set(_fedrec_python_depends
      "python3 (>= 3.${CMAKE_MATCH_1}), python3 (<< 3.${_fedrec_next}), python3-numpy")
  else()
    set(_fedrec_python_depends "python3, python3-numpy")
  endif()
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_fedrec_python_depends}")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-matplotlib")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "slurm-client")
# gzip: several times faster to build than xz for a little more size.
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
# RelWithDebInfo carries ~100 MB of debug info per binary.
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
