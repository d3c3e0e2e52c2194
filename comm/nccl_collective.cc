#include "comm/nccl_collective.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "comm/deadline.h"
#include "core/status.h"

namespace fedrec {
namespace {

// NCCL is loaded when a run asks for it, not linked: libnccl is over 200 MB
// of mappings, which every fedrec process would pay for (and fail to map
// under a tight address-space limit), and a machine without NCCL still runs
// every other backend. The table holds the functions this file calls; their
// types come from nccl.h, so a mismatch is a compile error.
struct NcclApi {
  decltype(&ncclGetVersion) GetVersion = nullptr;
  decltype(&ncclGetUniqueId) GetUniqueId = nullptr;
  decltype(&ncclCommInitRankConfig) CommInitRankConfig = nullptr;
  decltype(&ncclCommGetAsyncError) CommGetAsyncError = nullptr;
  decltype(&ncclCommFinalize) CommFinalize = nullptr;
  decltype(&ncclCommDestroy) CommDestroy = nullptr;
  decltype(&ncclCommAbort) CommAbort = nullptr;
  decltype(&ncclGetErrorString) GetErrorString = nullptr;
  decltype(&ncclGetLastError) GetLastError = nullptr;
  decltype(&ncclAllReduce) AllReduce = nullptr;
};

// The process's one NCCL, loaded on first use (thread-safe); the library
// stays loaded until the process ends. FailedPrecondition when it cannot be
// found or lacks a function.
absl::StatusOr<const NcclApi*> LoadNccl() {
  static std::once_flag once;
  static NcclApi api;
  static absl::Status status;
  std::call_once(once, [] {
    void* library = nullptr;
    std::string why;
    for (const char* name : {"libnccl.so.2", "libnccl.so"}) {
      library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (library != nullptr) break;
      if (why.empty()) why = dlerror();
    }
    if (library == nullptr) {
      status = absl::FailedPreconditionError("cannot load NCCL (" + EscapeForMessage(why) +
                                             "; install it or add its directory to "
                                             "LD_LIBRARY_PATH)");
      return;
    }
    auto bind = [&](auto& slot, const char* symbol) {
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(dlsym(library, symbol));
      if (slot == nullptr && status.ok()) {
        status = absl::FailedPreconditionError(std::string("its NCCL lacks ") + symbol +
                                               " (NCCL 2.14 or newer is needed)");
      }
    };
    bind(api.GetVersion, "ncclGetVersion");
    bind(api.GetUniqueId, "ncclGetUniqueId");
    bind(api.CommInitRankConfig, "ncclCommInitRankConfig");
    bind(api.CommGetAsyncError, "ncclCommGetAsyncError");
    bind(api.CommFinalize, "ncclCommFinalize");
    bind(api.CommDestroy, "ncclCommDestroy");
    bind(api.CommAbort, "ncclCommAbort");
    bind(api.GetErrorString, "ncclGetErrorString");
    bind(api.GetLastError, "ncclGetLastError");
    bind(api.AllReduce, "ncclAllReduce");
  });
  if (!status.ok()) return status;
  return &api;
}

absl::Status CudaFailure(cudaError_t code, const char* call, int line) {
  return absl::InternalError(std::string("nccl backend: ") + call + ": " +
                             cudaGetErrorString(code) +
                             " (nccl_collective.cc:" + std::to_string(line) + ")");
}

absl::Status NcclFailure(const NcclApi& nccl, ncclResult_t code, const char* call, int line,
                         ncclComm_t comm) {
  std::string detail = nccl.GetErrorString(code);
  const char* last = nccl.GetLastError(comm);
  if (last != nullptr && *last != '\0') detail += std::string(": ") + last;
  return absl::InternalError(std::string("nccl backend: ") + call + ": " +
                             EscapeForMessage(detail) +
                             " (nccl_collective.cc:" + std::to_string(line) + ")");
}

#define FEDREC_CUDA_OR_RETURN(call)                           \
  do {                                                        \
    const cudaError_t fedrec_cuda_code_ = (call);             \
    if (fedrec_cuda_code_ != cudaSuccess) {                   \
      return CudaFailure(fedrec_cuda_code_, #call, __LINE__); \
    }                                                         \
  } while (0)

// ncclInProgress is not a failure on a non-blocking communicator: the caller
// polls the communicator's state afterwards (Poller::Wait).
#define FEDREC_NCCL_OR_RETURN(api, call, comm)                                     \
  do {                                                                             \
    const ncclResult_t fedrec_nccl_code_ = (call);                                 \
    if (fedrec_nccl_code_ != ncclSuccess && fedrec_nccl_code_ != ncclInProgress) { \
      return NcclFailure((api), fedrec_nccl_code_, #call, __LINE__, (comm));       \
    }                                                                              \
  } while (0)

// Waits by polling, as MpiCollective does: a 50 us spin, then sleeps growing
// to 0.2 ms, until `done` says so or `timeout` (zero: never) passes.
template <typename Done>
absl::StatusOr<bool> PollUntil(std::chrono::milliseconds timeout, Done done) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  std::chrono::microseconds nap(1);
  while (true) {
    FEDREC_ASSIGN_OR_RETURN(bool finished, done());
    if (finished) return true;
    const Clock::duration waited = Clock::now() - start;
    if (timeout.count() > 0 && waited >= timeout) return false;
    if (waited > std::chrono::microseconds(50)) {
      std::this_thread::sleep_for(nap);
      nap = std::min(nap * 2, std::chrono::microseconds(200));
    }
  }
}

}  // namespace

struct NcclCollective::State {
  const NcclApi* nccl = nullptr;
  int device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  void* staging = nullptr;
  size_t staging_bytes = 0;
  absl::Status broken;  // the first DeadlineExceeded or NCCL failure; OK until then

  // Polls until the communicator has no operation in progress and, when
  // `stream_too`, the stream is idle. A timeout or an asynchronous NCCL
  // error aborts the communicator and breaks the collective.
  absl::Status Wait(const char* op, std::chrono::milliseconds timeout, bool stream_too) {
    auto done = [&]() -> absl::StatusOr<bool> {
      ncclResult_t state = ncclSuccess;
      const ncclResult_t query = nccl->CommGetAsyncError(comm, &state);
      if (query != ncclSuccess) {
        return NcclFailure(*nccl, query, "ncclCommGetAsyncError", __LINE__, comm);
      }
      if (state == ncclInProgress) return false;
      if (state != ncclSuccess) return NcclFailure(*nccl, state, op, __LINE__, comm);
      if (!stream_too) return true;
      const cudaError_t idle = cudaStreamQuery(stream);
      if (idle == cudaErrorNotReady) return false;
      if (idle != cudaSuccess) return CudaFailure(idle, "cudaStreamQuery", __LINE__);
      return true;
    };
    absl::StatusOr<bool> finished = PollUntil(timeout, done);
    if (finished.ok() && *finished) return absl::OkStatus();
    broken = finished.ok() ? CollectiveDidNotComplete(op, timeout) : finished.status();
    nccl->CommAbort(comm);  // after an error or a timeout nothing on it can be trusted
    comm = nullptr;
    return broken;
  }

  absl::Status Stage(size_t bytes) {
    if (bytes <= staging_bytes) return absl::OkStatus();
    if (staging != nullptr) FEDREC_CUDA_OR_RETURN(cudaFree(staging));
    staging = nullptr;
    staging_bytes = 0;
    FEDREC_CUDA_OR_RETURN(cudaMalloc(&staging, bytes));
    staging_bytes = bytes;
    return absl::OkStatus();
  }
};

absl::StatusOr<int> VisibleCudaDeviceCount() {
  int count = 0;
  const cudaError_t code = cudaGetDeviceCount(&count);
  if (code == cudaErrorNoDevice || code == cudaErrorInsufficientDriver) {
    cudaGetLastError();  // clear the (non-sticky) error
    return 0;
  }
  if (code != cudaSuccess) return CudaFailure(code, "cudaGetDeviceCount", __LINE__);
  return count;
}

std::string NcclCollective::NcclVersion() {
  absl::StatusOr<const NcclApi*> nccl = LoadNccl();
  int version = 0;
  if (!nccl.ok() || (*nccl)->GetVersion(&version) != ncclSuccess) return "unknown";
  // NCCL_VERSION(X, Y, Z) = X * 10000 + Y * 100 + Z since 2.9.
  return std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
         std::to_string(version % 100);
}

absl::StatusOr<std::unique_ptr<NcclCollective>> NcclCollective::Create(
    std::unique_ptr<Collective> control, int device) {
  Collective& ref = *control;
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<NcclCollective> nccl, Create(ref, device));
  nccl->owned_control_ = std::move(control);
  return nccl;
}

absl::StatusOr<std::unique_ptr<NcclCollective>> NcclCollective::Create(Collective& control,
                                                                       int device) {
  // 1. Every rank says whether it has NCCL and its device; all refuse
  // together, so that no rank is left waiting in the set-up.
  std::string problem;
  bool no_gpu = false;
  absl::StatusOr<const NcclApi*> api = LoadNccl();
  absl::StatusOr<int> visible = VisibleCudaDeviceCount();
  const std::string who = "rank " + std::to_string(control.rank());
  if (!api.ok()) {
    problem = who + ": " + std::string(api.status().message());
  } else if (!visible.ok()) {
    problem = who + ": " + std::string(visible.status().message());
  } else if (device < 0 || device >= *visible) {
    problem = who + " has no GPU (device index " + std::to_string(device) + ", " +
              std::to_string(*visible) + " visible on its node)";
    no_gpu = true;
  }
  FEDREC_ASSIGN_OR_RETURN(std::vector<std::string> problems,
                          control.Allgather(std::string(no_gpu ? "G" : "-") + problem));
  std::string refusal;
  int refused = 0;
  bool any_without_gpu = false;
  for (const std::string& p : problems) {
    if (p.size() <= 1) continue;
    any_without_gpu |= p[0] == 'G';
    if (++refused <= 3) refusal += (refusal.empty() ? "" : "; ") + p.substr(1);
  }
  if (refused > 3) refusal += "; and " + std::to_string(refused - 3) + " more ranks";
  if (refused > 0) {
    if (any_without_gpu) {
      refusal +=
          " (the backend needs one GPU per rank: set CUDA_VISIBLE_DEVICES, start fewer "
          "ranks per node, or use backend.comm = mpi)";
    }
    absl::Status refusal_status = absl::FailedPreconditionError("backend.comm: 'nccl': " + refusal);
    // Every rank knows the same; rank 0 says it.
    if (control.rank() != 0) return ReportedByAnotherRank(std::move(refusal_status));
    return refusal_status;
  }

  const NcclApi& nccl_api = **api;
  auto state = std::make_unique<State>();
  state->nccl = &nccl_api;
  state->device = device;
  // 2. Rank 0 makes the communicator's id; the control collective carries it.
  std::string id_bytes;
  absl::Status id_status;
  if (control.rank() == 0) {
    ncclUniqueId id;
    const ncclResult_t made = nccl_api.GetUniqueId(&id);
    if (made == ncclSuccess) {
      id_bytes.assign(id.internal, sizeof(id.internal));
    } else {
      id_status = NcclFailure(nccl_api, made, "ncclGetUniqueId", __LINE__, nullptr);
    }
  }
  // An empty id tells the other ranks that rank 0 failed, so none waits.
  FEDREC_RETURN_IF_ERROR(control.Broadcast(&id_bytes, 0));
  FEDREC_RETURN_IF_ERROR(id_status);
  ncclUniqueId id;
  if (id_bytes.size() != sizeof(id.internal)) {
    return absl::InternalError("nccl backend: rank 0 could not create the NCCL id");
  }
  std::memcpy(id.internal, id_bytes.data(), sizeof(id.internal));

  // 3. The communicator, non-blocking so that every wait has the deadline.
  FEDREC_CUDA_OR_RETURN(cudaSetDevice(device));
  FEDREC_CUDA_OR_RETURN(cudaStreamCreateWithFlags(&state->stream, cudaStreamNonBlocking));
  std::unique_ptr<NcclCollective> nccl(new NcclCollective(&control, nullptr, std::move(state)));
  State& s = *nccl->state_;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  FEDREC_NCCL_OR_RETURN(
      nccl_api, nccl_api.CommInitRankConfig(&s.comm, control.size(), id, control.rank(), &config),
      s.comm);
  FEDREC_RETURN_IF_ERROR(s.Wait("NCCL set-up", control.timeout(), /*stream_too=*/false));
  nccl->Collective::set_timeout(control.timeout());
  return nccl;
}

NcclCollective::NcclCollective(Collective* control, std::unique_ptr<Collective> owned,
                               std::unique_ptr<State> state)
    : control_(control), owned_control_(std::move(owned)), state_(std::move(state)) {}

NcclCollective::~NcclCollective() {
  State& s = *state_;
  cudaSetDevice(s.device);
  if (s.comm != nullptr) {
    // A healthy communicator is finalised (bounded: a peer that is gone
    // would keep it waiting), then destroyed; otherwise aborted.
    bool finalised = s.nccl->CommFinalize(s.comm) == ncclSuccess ||
                     s.Wait("NCCL finalise", std::chrono::seconds(10), false).ok();
    if (s.comm != nullptr) {
      if (finalised) {
        s.nccl->CommDestroy(s.comm);
      } else {
        s.nccl->CommAbort(s.comm);
      }
    }
  }
  if (s.staging != nullptr) cudaFree(s.staging);
  if (s.stream != nullptr) cudaStreamDestroy(s.stream);
}

int NcclCollective::device() const { return state_->device; }

void NcclCollective::set_timeout(std::chrono::milliseconds timeout) {
  Collective::set_timeout(timeout);
  control_->set_timeout(timeout);
}

absl::Status NcclCollective::Reduce(void* device_words, size_t count, bool wide, const char* op) {
  State& s = *state_;
  FEDREC_RETURN_IF_ERROR(s.broken);
  if (count == 0) return absl::OkStatus();
  FEDREC_CUDA_OR_RETURN(cudaSetDevice(s.device));
  const ncclDataType_t type = wide ? ncclUint64 : ncclUint32;
  FEDREC_NCCL_OR_RETURN(
      *s.nccl,
      s.nccl->AllReduce(device_words, device_words, count, type, ncclSum, s.comm, s.stream),
      s.comm);
  return s.Wait(op, timeout(), /*stream_too=*/true);
}

absl::Status NcclCollective::AllreduceSumOnDevice(uint32_t* device_words, size_t count) {
  return Reduce(device_words, count, false, "allreduce");
}

absl::Status NcclCollective::AllreduceSumOnDevice(uint64_t* device_words, size_t count) {
  return Reduce(device_words, count, true, "allreduce");
}

namespace {

// Host words through the staging buffer: copy in, reduce, copy out.
template <typename Word, typename ReduceFn>
absl::Status StagedReduce(std::span<Word> data, int device, void** staging, cudaStream_t stream,
                          ReduceFn reduce) {
  if (data.empty()) return absl::OkStatus();
  const size_t bytes = data.size_bytes();
  FEDREC_CUDA_OR_RETURN(cudaSetDevice(device));
  FEDREC_CUDA_OR_RETURN(
      cudaMemcpyAsync(*staging, data.data(), bytes, cudaMemcpyHostToDevice, stream));
  FEDREC_RETURN_IF_ERROR(reduce(static_cast<Word*>(*staging), data.size()));
  FEDREC_CUDA_OR_RETURN(
      cudaMemcpyAsync(data.data(), *staging, bytes, cudaMemcpyDeviceToHost, stream));
  FEDREC_CUDA_OR_RETURN(cudaStreamSynchronize(stream));
  return absl::OkStatus();
}

}  // namespace

absl::Status NcclCollective::AllreduceSum(std::span<uint32_t> data) {
  FEDREC_RETURN_IF_ERROR(state_->broken);
  FEDREC_CUDA_OR_RETURN(cudaSetDevice(state_->device));
  FEDREC_RETURN_IF_ERROR(state_->Stage(data.size_bytes()));
  return StagedReduce(data, state_->device, &state_->staging, state_->stream,
                      [this](uint32_t* words, size_t n) { return AllreduceSumOnDevice(words, n); });
}

absl::Status NcclCollective::AllreduceSum(std::span<uint64_t> data) {
  FEDREC_RETURN_IF_ERROR(state_->broken);
  FEDREC_CUDA_OR_RETURN(cudaSetDevice(state_->device));
  FEDREC_RETURN_IF_ERROR(state_->Stage(data.size_bytes()));
  return StagedReduce(data, state_->device, &state_->staging, state_->stream,
                      [this](uint64_t* words, size_t n) { return AllreduceSumOnDevice(words, n); });
}

absl::Status NcclCollective::Broadcast(std::string* bytes, int root) {
  FEDREC_RETURN_IF_ERROR(state_->broken);
  return control_->Broadcast(bytes, root);
}

absl::StatusOr<std::vector<std::string>> NcclCollective::Gather(const std::string& bytes,
                                                                int root) {
  FEDREC_RETURN_IF_ERROR(state_->broken);
  return control_->Gather(bytes, root);
}

absl::StatusOr<std::vector<std::string>> NcclCollective::Allgather(const std::string& bytes) {
  FEDREC_RETURN_IF_ERROR(state_->broken);
  return control_->Allgather(bytes);
}

absl::Status NcclCollective::Barrier() {
  FEDREC_RETURN_IF_ERROR(state_->broken);
  return control_->Barrier();
}

}  // namespace fedrec
