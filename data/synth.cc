#include "data/synth.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "core/atomic_file.h"
#include "core/progress.h"
#include "core/random.h"
#include "core/thread_pool.h"
#include "data/sampling.h"

namespace fedrec {
namespace {

absl::Status Bad(const std::string& what) { return absl::InvalidArgumentError("synth: " + what); }

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Everything drawn once at setup and shared read-only by the workers.
class Model {
 public:
  explicit Model(const SynthOptions& o) : o_(o) {
    const uint32_t largest = (o.items + o.clusters - 1) / o.clusters;
    // Cluster sizes differ by at most one, so one Zipf CDF serves them all:
    // a cluster of size s samples from its first s entries.
    cdf_.resize(largest);
    double sum = 0.0;
    for (uint32_t r = 0; r < largest; ++r) {
      sum += std::pow(static_cast<double>(r) + 1.0, -o.zipf_exponent);
      cdf_[r] = sum;
    }
    successors_.resize(static_cast<size_t>(o.items) * o.successors);
    for (uint32_t i = 0; i < o.items; ++i) {
      const std::vector<uint32_t> s = Successors(o, i);
      std::copy(s.begin(), s.end(), successors_.begin() + static_cast<size_t>(i) * o.successors);
    }
  }

  static uint32_t ClusterStart(const SynthOptions& o, uint32_t c) {
    return static_cast<uint32_t>(static_cast<uint64_t>(c) * o.items / o.clusters);
  }
  static uint32_t ClusterOf(const SynthOptions& o, uint32_t item) {
    // The largest c with start(c) <= item.
    uint32_t c = static_cast<uint32_t>((static_cast<uint64_t>(item) + 1) * o.clusters / o.items);
    while (c > 0 && ClusterStart(o, c) > item) --c;
    while (c + 1 < o.clusters && ClusterStart(o, c + 1) <= item) ++c;
    return c;
  }
  static std::vector<uint32_t> Successors(const SynthOptions& o, uint32_t item) {
    const uint32_t c = ClusterOf(o, item);
    const uint32_t start = ClusterStart(o, c);
    const uint32_t size = ClusterStart(o, c + 1) - start;
    RandomStream rng({.seed = o.seed, .purpose = "synth_successors", .client = item});
    std::vector<uint32_t> out(o.successors);
    for (uint32_t& s : out) {
      if (size == 1) {
        s = item;
      } else {
        // Uniform over the cluster minus the item itself.
        const uint32_t r = rng.NextBelow(size - 1);
        s = start + r + (start + r >= item ? 1 : 0);
      }
    }
    return out;
  }

  // A fresh draw from cluster c's Zipf law.
  uint32_t DrawFromCluster(RandomStream& rng, uint32_t c) const {
    const uint32_t start = ClusterStart(o_, c);
    const uint32_t size = ClusterStart(o_, c + 1) - start;
    const double u = rng.NextDouble() * cdf_[size - 1];
    const uint32_t r = static_cast<uint32_t>(
        std::upper_bound(cdf_.begin(), cdf_.begin() + size, u) - cdf_.begin());
    return start + std::min(r, size - 1);
  }

  uint32_t Successor(RandomStream& rng, uint32_t item) const {
    return successors_[static_cast<size_t>(item) * o_.successors + rng.NextBelow(o_.successors)];
  }

 private:
  const SynthOptions& o_;
  std::vector<double> cdf_;
  std::vector<uint32_t> successors_;
};

// Appends the text of users [begin, end) to `out`.
class BlockWriter {
 public:
  BlockWriter(const SynthOptions& o, const Model& m, bool csv) : o_(o), m_(m), csv_(csv) {
    const uint32_t k = std::min(o.interests_per_user, o.clusters);
    interests_.resize(k);
    weights_.resize(k);
  }

  void Generate(uint32_t begin, uint32_t end, std::string* out) {
    out->clear();
    for (uint32_t u = begin; u < end; ++u) User(u, out);
  }

 private:
  void User(uint32_t u, std::string* out) {
    RandomStream rng({.seed = o_.seed, .purpose = "synth_user", .client = u});
    // Length: discretised log-normal, clamped.
    const double sigma = o_.length_sigma;
    const double mu = std::log(o_.mean_length) - 0.5 * sigma * sigma;
    const double raw = std::exp(mu + sigma * rng.NextNormal());
    const uint32_t length = static_cast<uint32_t>(
        std::clamp(std::llround(std::min(raw, 4e9)), static_cast<long long>(o_.min_length),
                   static_cast<long long>(o_.max_length)));
    // Interests: distinct clusters (rejection: k is small next to clusters
    // or equal to it, in which case a partial shuffle would do the same).
    const size_t k = interests_.size();
    for (size_t j = 0; j < k; ++j) {
      for (;;) {
        const uint32_t c = rng.NextBelow(o_.clusters);
        if (std::find(interests_.begin(), interests_.begin() + j, c) == interests_.begin() + j) {
          interests_[j] = c;
          break;
        }
      }
    }
    SampleDirichlet(rng, o_.interest_alpha, weights_);
    const size_t top =
        static_cast<size_t>(std::max_element(weights_.begin(), weights_.end()) - weights_.begin());
    int64_t ts = 1'000'000'000 + rng.NextBelow(10'000'000);
    uint32_t previous = 0;
    for (uint32_t t = 0; t < length; ++t) {
      uint32_t item;
      if (t > 0 && rng.NextDouble() < o_.p_markov) {
        item = m_.Successor(rng, previous);
      } else {
        double x = rng.NextDouble();
        size_t j = 0;
        while (j + 1 < k && x >= weights_[j]) x -= weights_[j++];
        item = m_.DrawFromCluster(rng, interests_[j]);
      }
      previous = item;
      Number(uint64_t{u} + 1, out);
      if (csv_) {
        out->push_back(',');
        Number(uint64_t{item} + 1, out);
        int rating = Model::ClusterOf(o_, item) == interests_[top] ? 5 : 4;
        if (rng.NextDouble() < 0.2) --rating;
        out->push_back(',');
        out->push_back(static_cast<char>('0' + rating));
        out->push_back(',');
        Number(static_cast<uint64_t>(ts), out);
        ts += 1 + rng.NextBelow(3600);
      } else {
        out->push_back(' ');
        Number(uint64_t{item} + 1, out);
      }
      out->push_back('\n');
    }
  }

  static void Number(uint64_t v, std::string* out) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, static_cast<size_t>(r.ptr - buf));
  }

  const SynthOptions& o_;
  const Model& m_;
  const bool csv_;
  std::vector<uint32_t> interests_;
  std::vector<double> weights_;
};

}  // namespace

absl::Status ValidateSynthOptions(const SynthOptions& o) {
  if (o.users == 0) return Bad("--users must be at least 1");
  if (o.items == 0) return Bad("--items must be at least 1");
  if (o.clusters == 0) return Bad("clusters must be at least 1");
  if (o.items < o.clusters) {
    return Bad("--items (" + std::to_string(o.items) +
               ") must be at least the number of clusters (" + std::to_string(o.clusters) + ")");
  }
  if (!(o.zipf_exponent >= 0.0) || !std::isfinite(o.zipf_exponent)) {
    return Bad("zipf exponent must be a finite number >= 0");
  }
  if (o.interests_per_user == 0) return Bad("interests per user must be at least 1");
  if (!(o.interest_alpha > 0.0) || !std::isfinite(o.interest_alpha)) {
    return Bad("interest alpha must be a finite number > 0");
  }
  if (!(o.p_markov >= 0.0 && o.p_markov <= 1.0)) return Bad("p_markov must be in [0, 1]");
  if (o.successors == 0) return Bad("successors must be at least 1");
  if (o.min_length == 0) return Bad("min length must be at least 1");
  if (o.max_length < o.min_length) return Bad("max length must be >= min length");
  if (!(o.mean_length >= o.min_length) || !std::isfinite(o.mean_length)) {
    return Bad("mean length must be a finite number >= min length (" +
               std::to_string(o.min_length) + ")");
  }
  if (!(o.length_sigma >= 0.0) || !std::isfinite(o.length_sigma) || o.length_sigma > 10.0) {
    return Bad("length sigma must be in [0, 10]");
  }
  if (o.block_users == 0) return Bad("block users must be at least 1");
  if (o.threads < 0) return Bad("threads must be >= 0");
  return absl::OkStatus();
}

uint32_t SynthClusterOf(const SynthOptions& options, uint32_t item) {
  return Model::ClusterOf(options, item);
}

std::vector<uint32_t> SynthSuccessors(const SynthOptions& options, uint32_t item) {
  return Model::Successors(options, item);
}

absl::Status WriteSyntheticDataset(const SynthOptions& options, const std::string& out_path) {
  FEDREC_RETURN_IF_ERROR(ValidateSynthOptions(options));
  const bool csv = options.format == SynthFormat::kCsv ||
                   (options.format == SynthFormat::kAuto && EndsWith(out_path, ".csv"));
  FEDREC_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::Open(out_path));
  if (csv) FEDREC_RETURN_IF_ERROR(writer.Append("user,item,rating,timestamp\n"));

  const Model model(options);
  const uint32_t block = options.block_users;
  const uint64_t num_blocks = (uint64_t{options.users} + block - 1) / block;
  const auto range = [&](uint64_t b, uint32_t* begin, uint32_t* end) {
    *begin = static_cast<uint32_t>(b * block);
    *end = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{options.users}, (b + 1) * block));
  };
  // Blocks are generated in parallel and appended in block order, so the
  // bytes do not depend on scheduling. A finished block waits in a ring of
  // `window` slots until every earlier block is written; whichever thread
  // finds the next block to write ready appends it (one writer at a time,
  // outside the lock). A thread starts block b only once b fits in the ring,
  // so memory stays O(threads * block); the thread holding the oldest unwritten
  // block never waits, so the ring always drains.
  const size_t threads = NumWorkers(num_blocks, 1, static_cast<size_t>(options.threads));
  const uint64_t window = 2 * uint64_t{threads};
  std::mutex mu;
  std::condition_variable cv;
  uint64_t written = 0;  // blocks appended so far
  bool writing = false;  // a thread is appending
  absl::Status status = absl::OkStatus();
  std::vector<std::string> slots(window);
  std::vector<uint8_t> ready(window, 0);
  std::vector<std::optional<BlockWriter>> generators(threads);
  std::vector<std::string> buffers(threads);
  ProgressReporter progress("synth users", options.users,
                            ProgressOptions{.delay = std::chrono::milliseconds(2000)});
  FEDREC_RETURN_IF_ERROR(ParallelForWithWorker(
      num_blocks, 1, static_cast<size_t>(options.threads),
      [&](size_t b, size_t, size_t, size_t worker) {
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return b < written + window || !status.ok(); });
          if (!status.ok()) return absl::OkStatus();
        }
        if (!generators[worker]) generators[worker].emplace(options, model, csv);
        uint32_t begin, end;
        range(b, &begin, &end);
        std::string& buf = buffers[worker];
        generators[worker]->Generate(begin, end, &buf);
        progress.Advance(end - begin);
        std::unique_lock lock(mu);
        slots[b % window].swap(buf);
        ready[b % window] = 1;
        if (writing) return absl::OkStatus();  // the writing thread appends it
        writing = true;
        while (status.ok() && written < num_blocks && ready[written % window]) {
          std::string& slot = slots[written % window];
          std::string chunk;
          chunk.swap(slot);
          lock.unlock();
          absl::Status appended = writer.Append(chunk);
          lock.lock();
          chunk.swap(slot);  // hand the capacity back for reuse
          ready[written % window] = 0;
          ++written;
          status.Update(appended);
          cv.notify_all();
        }
        writing = false;
        return absl::OkStatus();
      }));
  FEDREC_RETURN_IF_ERROR(status);
  return std::move(writer).Commit();
}

}  // namespace fedrec
