// Fuzz target: checkpoint files (proto/checkpoint.h) from bytes, and what
// readers do with an accepted checkpoint (tensors into a parameter store,
// `fedrec inspect`'s description).
//
// Input: byte 0 = mode. Mode 0: the rest is a whole checkpoint file. Mode 1:
// the rest is a payload, which the target wraps in a valid header (magic,
// version, length, SHA-256), so the fuzzer reaches the payload's parser and
// its consumers instead of stopping at the digest.
//
// Promises checked on an accepted file: the header's length and digest match
// the payload; encoding the decoded message again and decoding that gives
// the same message; a tensor list that loads into a store has the shapes and
// values it announced.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "core/sha256.h"
#include "proto/checkpoint.h"
#include "tests/fuzz/fuzz_common.h"

namespace fedrec {
namespace {

std::string WithHeader(std::string_view payload) {
  std::string out(kCheckpointMagic, sizeof(kCheckpointMagic));
  for (int i = 0; i < 4; ++i)
    out += static_cast<char>((kCheckpointFormatVersion >> (8 * i)) & 0xff);
  const uint64_t n = payload.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  const Sha256Digest digest = Sha256Of(payload);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  out.append(payload);
  return out;
}

Checkpoint SmallCheckpoint() {
  Checkpoint c;
  c.mutable_model()->set_type("mf_bpr");
  c.mutable_model()->set_dim(2);
  c.mutable_model()->set_num_items(3);
  c.mutable_model()->set_num_users(2);
  c.set_round(4);
  ParameterStore store;
  (void)store.Add("item_emb", 3, 2);
  (void)store.Add("item_bias", 3, 1);
  store.Finalize();
  for (size_t i = 0; i < store.size(); ++i) store.Flat()[i] = 0.25f * static_cast<float>(i);
  StoreToTensors(store, c.mutable_tensors());
  *c.add_local_tensors() = c.tensors(1);
  c.add_item_ids(10);
  c.add_item_ids(11);
  c.add_item_ids(12);
  c.add_user_ids(1);
  c.add_user_ids(2);
  c.set_best_round(2);
  (*c.mutable_best_valid_metrics())["ndcg@10"] = 0.5;
  c.set_config_toml("seed = 1\n");
  c.set_compute_backend("cpu");
  return c;
}

void Seeds(const std::function<void(const std::string&, const std::string&)>& emit) {
  Checkpoint c = SmallCheckpoint();
  StampCheckpoint(&c);
  c.set_created_unix(0);
  absl::StatusOr<std::string> file = EncodeCheckpointFile(c);
  if (!file.ok()) std::abort();
  emit("file", std::string(1, '\0') + *file);
  emit("payload", std::string(1, '\1') + file->substr(kCheckpointHeaderSize));
  emit("empty_payload", std::string(1, '\1'));
}

void CheckAccepted(const std::string& bytes, const Checkpoint& c, const CheckpointHeader& h) {
  const std::string_view payload = std::string_view(bytes).substr(kCheckpointHeaderSize);
  FUZZ_CHECK(h.payload_length == payload.size(), "the header's length is the payload's");
  FUZZ_CHECK(h.payload_sha256 == Sha256Of(payload), "a checkpoint that verifies has its digest");
  absl::StatusOr<std::string> again = EncodeCheckpointFile(c);
  if (again.ok()) {
    absl::StatusOr<Checkpoint> back = DecodeCheckpointFile(*again, "again");
    FUZZ_CHECK(back.ok(), "a re-encoded checkpoint decodes");
    std::string a, b;
    google::protobuf::io::StringOutputStream sa(&a), sb(&b);
    {
      google::protobuf::io::CodedOutputStream ca(&sa), cb(&sb);
      ca.SetSerializationDeterministic(true);
      cb.SetSerializationDeterministic(true);
      c.SerializeToCodedStream(&ca);
      back->SerializeToCodedStream(&cb);
    }
    FUZZ_CHECK(a == b, "decode(encode(c)) == c");
  }
  // What eval/recommend/inspect do first with the tensors.
  for (const auto* list : {&c.tensors(), &c.local_tensors()}) {
    absl::StatusOr<ParameterStore> store = StoreFromTensors(*list);
    if (!store.ok()) continue;
    FUZZ_CHECK(store->num_tensors() == static_cast<size_t>(list->size()), "one tensor per entry");
    for (int k = 0; k < list->size(); ++k) {
      const NamedTensor& t = (*list)[k];
      const ConstTensorView v = std::as_const(*store).ViewAt(static_cast<size_t>(k));
      FUZZ_CHECK(v.rows == t.rows() && v.cols == t.cols(), "shapes as announced");
      FUZZ_CHECK(t.data().size() == v.size() * 4, "data as announced");
      FUZZ_CHECK(TensorToProto(t.name(), v).data() == t.data(), "values round-trip");
    }
  }
  const nlohmann::json description = DescribeCheckpoint(h, c);
  FUZZ_CHECK(!RenderCheckpointText(description).empty(), "inspect prints something");
  (void)description.dump();
}

}  // namespace
}  // namespace fedrec

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Protobuf logs every string field with invalid UTF-8 it parses: noise
  // that slows the fuzzer down, not a finding.
  google::protobuf::SetLogHandler(nullptr);
  fedrec::fuzz::WriteSeedsIfAsked(fedrec::Seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedrec;
  if (size < 1) return 0;
  const std::string_view rest = fuzz::AsView(data + 1, size - 1);
  const std::string bytes = (data[0] & 1) ? WithHeader(rest) : std::string(rest);
  CheckpointHeader header;
  absl::StatusOr<Checkpoint> c = DecodeCheckpointFile(bytes, "fuzz.ckpt", &header);
  if (!c.ok()) return 0;
  CheckAccepted(bytes, *c, header);
  return 0;
}
