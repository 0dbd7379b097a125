#include "mpi_world.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>

#include "maxact/error.h"

#ifdef MAXACT_WITH_MPI
#include <mpi.h>
#endif

namespace maxact::cli {
namespace {

// The launchers' own variables: Open MPI's mpirun, PMIx (srun --mpi=pmix) and PMI-1/2.
int launched_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"}) {
    if (const char* s = std::getenv(v); s != nullptr) return std::max(1, std::atoi(s));
  }
  return 1;
}

}  // namespace

std::string rank_prefix() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (const char* s = std::getenv(v); s != nullptr && launched_size() > 1) {
      return fmt::format("rank {} of {}: ", s, launched_size());
    }
  }
  return "";
}

#ifdef MAXACT_WITH_MPI

MpiWorld::MpiWorld() {
  if (launched_size() <= 1) return;
  int provided = 0;
  // Only the main thread calls MPI; the scan's pool never does.
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  initialized_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiWorld::~MpiWorld() {
  if (initialized_) MPI_Finalize();
}

std::vector<std::string> MpiWorld::gather(const std::string& mine) const {
  if (!several()) return {mine};
  uint64_t n = mine.size(), longest = 0;
  std::vector<uint64_t> sizes(static_cast<std::size_t>(size_));
  MPI_Gather(&n, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  MPI_Allreduce(&n, &longest, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  std::vector<std::string> out(rank_ == 0 ? sizes.size() : 0);
  for (std::size_t r = 0; r < out.size(); ++r) out[r].resize(sizes[r]);
  // Gatherv counts and displacements are ints: rounds of at most `chunk` bytes per rank.
  const uint64_t chunk = std::min<uint64_t>(uint64_t{64} << 20, INT_MAX / size_);
  std::vector<int> counts(sizes.size()), displs(sizes.size());
  std::string buffer;
  for (uint64_t off = 0; off < longest; off += chunk) {
    const auto piece = [&](uint64_t len) {
      return static_cast<int>(len > off ? std::min(chunk, len - off) : 0);
    };
    if (rank_ == 0) {
      int total = 0;
      for (std::size_t r = 0; r < sizes.size(); ++r) {
        counts[r] = piece(sizes[r]);
        displs[r] = total;
        total += counts[r];
      }
      buffer.resize(static_cast<std::size_t>(total));
    }
    MPI_Gatherv(mine.data() + std::min(off, n), piece(n), MPI_BYTE, buffer.data(), counts.data(),
                displs.data(), MPI_BYTE, 0, MPI_COMM_WORLD);
    for (std::size_t r = 0; r < out.size(); ++r) {
      if (counts[r] > 0) std::copy_n(buffer.data() + displs[r], counts[r], out[r].data() + off);
    }
  }
  return out;
}

void MpiWorld::barrier() const {
  if (initialized_) MPI_Barrier(MPI_COMM_WORLD);
}

void MpiWorld::abort(int code) const {
  if (initialized_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

std::string mpi_library() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string s(text, static_cast<std::size_t>(len));
  s = s.substr(0, s.find(','));  // "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4"
  return s;
}

#else

MpiWorld::MpiWorld() {
  if (launched_size() > 1) {
    throw Error(ErrorCode::kOption,
                "started as one of several MPI ranks, but this maxact was built without MPI "
                "(install libopenmpi-dev and rebuild)");
  }
}
MpiWorld::~MpiWorld() = default;
std::vector<std::string> MpiWorld::gather(const std::string& mine) const {
  return {mine};
}
void MpiWorld::barrier() const {}
void MpiWorld::abort(int code) const {
  std::exit(code);
}
std::string mpi_library() {
  return "";
}

#endif

void end_job_on_error(int code) {
#ifdef MAXACT_WITH_MPI
  if (launched_size() > 1) MpiWorld::get().abort(code);
#else
  (void)code;
#endif
}

MpiWorld& MpiWorld::get() {
  static MpiWorld world;
  return world;
}

}  // namespace maxact::cli
