// Fuzz target: the NumPy .npy and safetensors parsers (data/tensor_files.h),
// the formats item features and pretrained weights arrive in.
//
// Input: byte 0 = format (bit 0 clear: .npy, set: safetensors); the rest is
// the file.
//
// Promises checked on an accepted file: every array holds exactly as many
// values as its shape says, in the one vector its kind names.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "core/atomic_file.h"
#include "data/tensor_files.h"
#include "tests/fuzz/fuzz_common.h"

namespace fedrec {
namespace {

void CheckArray(const Array& a) {
  const bool is_float = a.kind == Array::Kind::kFloat;
  FUZZ_CHECK((is_float ? a.floats.size() : a.ints.size()) == a.size(), "values match the shape");
  FUZZ_CHECK((is_float ? a.ints.empty() : a.floats.empty()), "one vector per kind");
  FUZZ_CHECK(!a.dtype.empty(), "dtype recorded");
}

// Seeds made by the product's writers, through a scratch directory.
void Seeds(const std::function<void(const std::string&, const std::string&)>& emit) {
  char dir_template[] = "/tmp/fedrec-fuzz-seeds-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) std::abort();
  const std::string npy = std::string(dir) + "/a.npy";
  const std::string ints = std::string(dir) + "/i.npy";
  const std::string st = std::string(dir) + "/t.safetensors";
  const std::vector<float> values = {1.5f, -2.0f, 0.0f, 3.25f, 1e-30f, -7.0f};
  const std::vector<uint64_t> shape = {2, 3};
  const std::vector<int64_t> ids = {7, -1, 42};
  const std::vector<uint64_t> id_shape = {3};
  std::map<std::string, Array> tensors;
  tensors["features"].shape = shape;
  tensors["features"].floats = values;
  tensors["ids"].kind = Array::Kind::kInt;
  tensors["ids"].shape = id_shape;
  tensors["ids"].ints = ids;
  if (!WriteNpy(npy, shape, std::span<const float>(values)).ok() ||
      !WriteNpy(ints, id_shape, std::span<const int64_t>(ids)).ok() ||
      !WriteSafetensors(st, tensors).ok()) {
    std::abort();
  }
  for (const auto& [name, path, format] :
       {std::tuple<std::string, std::string, char>{"npy_f4", npy, '\0'},
        {"npy_i8", ints, '\0'},
        {"safetensors", st, '\1'}}) {
    absl::StatusOr<std::string> bytes = ReadFileToString(path);
    if (!bytes.ok()) std::abort();
    emit(name, std::string(1, format) + *bytes);
    std::remove(path.c_str());
  }
  ::rmdir(dir);
}

}  // namespace
}  // namespace fedrec

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fedrec::fuzz::WriteSeedsIfAsked(fedrec::Seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedrec;
  if (size < 1) return 0;
  const std::span<const uint8_t> file(data + 1, size - 1);
  if (data[0] & 1) {
    absl::StatusOr<SafetensorsFile> parsed = ParseSafetensors(file, "fuzz.safetensors");
    if (parsed.ok()) {
      for (const auto& [name, array] : parsed->tensors) CheckArray(array);
    }
  } else {
    absl::StatusOr<Array> parsed = ParseNpy(file, "fuzz.npy");
    if (parsed.ok()) CheckArray(*parsed);
  }
  return 0;
}
