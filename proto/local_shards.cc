#include "proto/local_shards.h"

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"

namespace fedrec {
namespace {

std::string DirectoryOf(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// Copies the shard's rows of still-needed users into `store`.
absl::Status TakeRows(const Checkpoint& shard, const std::string& where, ParameterStore* store,
                      std::vector<bool>* needed) {
  if (static_cast<size_t>(shard.local_tensors_size()) != store->num_tensors()) {
    return absl::DataLossError(where + ": local tensors do not match the model");
  }
  const size_t rows = static_cast<size_t>(shard.shard_users_size());
  for (size_t k = 0; k < store->num_tensors(); ++k) {
    const NamedTensor& t = shard.local_tensors(static_cast<int>(k));
    TensorView v = store->ViewAt(k);
    if (t.name() != store->layout()[k].name || t.cols() != v.cols || t.rows() != rows ||
        t.data().size() != rows * v.cols * sizeof(float)) {
      return absl::DataLossError(
          absl::StrCat(where, ": tensor '", t.name(), "' does not match the model's layout"));
    }
    for (size_t i = 0; i < rows; ++i) {
      const uint32_t user = shard.shard_users(static_cast<int>(i));
      if (user >= v.rows) {
        return absl::DataLossError(absl::StrCat(where, ": user ", user, " out of range"));
      }
      if (!(*needed)[user]) continue;
      std::memcpy(v.Row(user).data(), t.data().data() + i * v.cols * sizeof(float),
                  v.cols * sizeof(float));
    }
  }
  for (uint32_t user : shard.shard_users()) {
    if (user < needed->size()) (*needed)[user] = false;
  }
  return absl::OkStatus();
}

}  // namespace

std::string LocalShardFileName(const std::string& checkpoint_file_name, uint64_t round,
                               uint32_t worker, uint32_t num_workers) {
  std::string stem = checkpoint_file_name;
  if (stem.size() > 5 && stem.ends_with(".ckpt")) stem.resize(stem.size() - 5);
  return absl::StrCat(stem, ".r", round, ".w", worker + 1, "-of-", num_workers, ".local");
}

absl::StatusOr<proto::LocalShardRef> WriteLocalShard(const std::string& directory,
                                                     const std::string& file_name, uint64_t round,
                                                     uint32_t worker, uint32_t num_workers,
                                                     std::span<const uint32_t> users,
                                                     const ParameterStore& store) {
  Checkpoint shard;
  shard.set_round(round);
  shard.mutable_shard_users()->Add(users.begin(), users.end());
  for (size_t k = 0; k < store.num_tensors(); ++k) {
    ConstTensorView v = store.ViewAt(k);
    NamedTensor* t = shard.add_local_tensors();
    t->set_name(store.layout()[k].name);
    t->set_rows(users.size());
    t->set_cols(v.cols);
    std::string* data = t->mutable_data();
    data->reserve(users.size() * v.cols * sizeof(float));
    for (uint32_t u : users) {
      std::span<const float> row = v.Row(u);
      data->append(reinterpret_cast<const char*>(row.data()), row.size_bytes());
    }
  }
  StampCheckpoint(&shard);
  const std::string path = directory + "/" + file_name;
  FEDREC_RETURN_IF_ERROR(WriteCheckpoint(path, shard));
  FEDREC_ASSIGN_OR_RETURN(CheckpointHeader header, ReadCheckpointHeader(path));
  proto::LocalShardRef ref;
  ref.set_file_name(file_name);
  ref.set_worker(worker);
  ref.set_num_workers(num_workers);
  ref.set_users(users.size());
  ref.set_payload_sha256_hex(ToHex(header.payload_sha256));
  return ref;
}

absl::Status ReadLocalRows(const std::string& checkpoint_path, const Checkpoint& checkpoint,
                           std::span<const uint32_t> users, std::optional<uint32_t> own_worker,
                           ParameterStore* store) {
  if (checkpoint.local_shards_size() == 0) {
    return WithContext(StoreFromTensors(checkpoint.local_tensors(), store), checkpoint_path);
  }
  if (store->num_tensors() == 0) return absl::OkStatus();
  const size_t rows = store->ViewAt(0).rows;
  std::vector<bool> needed(rows, users.empty());
  for (uint32_t u : users) {
    if (u >= rows) return absl::InvalidArgumentError(absl::StrCat("user ", u, " out of range"));
    needed[u] = true;
  }
  // The worker's own shard first: with the same worker count it is all it reads.
  std::vector<const proto::LocalShardRef*> order;
  for (const proto::LocalShardRef& ref : checkpoint.local_shards()) {
    const bool own = own_worker && ref.worker() == *own_worker &&
                     ref.num_workers() == static_cast<uint32_t>(checkpoint.local_shards_size());
    if (own)
      order.insert(order.begin(), &ref);
    else
      order.push_back(&ref);
  }
  const std::string directory = DirectoryOf(checkpoint_path);
  size_t missing = std::count(needed.begin(), needed.end(), true);
  for (const proto::LocalShardRef* ref : order) {
    if (missing == 0) break;
    const std::string path = directory + "/" + ref->file_name();
    FEDREC_ASSIGN_OR_RETURN(CheckpointHeader header, ReadCheckpointHeader(path));
    if (ToHex(header.payload_sha256) != ref->payload_sha256_hex()) {
      return absl::DataLossError(
          absl::StrCat(path, ": not the shard ", checkpoint_path, " lists (digest differs)"));
    }
    FEDREC_ASSIGN_OR_RETURN(Checkpoint shard, ReadCheckpoint(path));
    if (shard.round() != checkpoint.round()) {
      return absl::DataLossError(absl::StrCat(path, ": shard of round ", shard.round(),
                                              ", the checkpoint is of round ", checkpoint.round()));
    }
    FEDREC_RETURN_IF_ERROR(TakeRows(shard, path, store, &needed));
    missing = std::count(needed.begin(), needed.end(), true);
  }
  if (missing > 0) {
    const auto first =
        static_cast<size_t>(std::find(needed.begin(), needed.end(), true) - needed.begin());
    return absl::DataLossError(absl::StrCat(checkpoint_path, ": no local shard holds user ", first,
                                            " (", missing, " users missing)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Checkpoint> ReadCheckpointWithLocalShards(const std::string& path) {
  FEDREC_ASSIGN_OR_RETURN(Checkpoint ckpt, ReadCheckpoint(path));
  if (ckpt.local_shards_size() == 0) return ckpt;
  // The layout comes from the first shard, the row count from the model.
  const std::string first = DirectoryOf(path) + "/" + ckpt.local_shards(0).file_name();
  FEDREC_ASSIGN_OR_RETURN(Checkpoint shard, ReadCheckpoint(first));
  ParameterStore store;
  for (const NamedTensor& t : shard.local_tensors()) {
    FEDREC_RETURN_IF_ERROR(
        WithContext(store.Add(t.name(), ckpt.model().num_users(), t.cols()), first));
  }
  store.Finalize();
  FEDREC_RETURN_IF_ERROR(ReadLocalRows(path, ckpt, {}, std::nullopt, &store));
  ckpt.clear_local_tensors();
  StoreToTensors(store, ckpt.mutable_local_tensors());
  return ckpt;
}

}  // namespace fedrec
