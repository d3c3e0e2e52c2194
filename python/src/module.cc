// fedrec._fedrec: the C++ half of the Python package (python/fedrec/ is the
// documented API; this module is its private implementation).
#include "convert.h"
#include "core/isa.h"
#include "core/logging.h"

PYBIND11_MODULE(_fedrec, m) {
  m.doc() = "fedrec's C++ core (private; use the fedrec package)";
  m.attr("__version__") = FEDREC_VERSION;
  m.attr("__isa__") = fedrec::BuildIsaDescription();
  fedrec::python::BindPrivacy(m);
  fedrec::python::BindData(m);
  fedrec::python::BindModel(m);
  fedrec::python::BindTrain(m);
  // A library should not chat on import: warnings and errors only, on
  // stderr, until fedrec.set_log_level says otherwise.
  fedrec::python::Check(fedrec::InitLogging("warn"));
}
