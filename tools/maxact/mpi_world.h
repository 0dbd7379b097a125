// The MPI world a `maxact scan` started by mpirun or srun is a rank of (docs/STATE.md § MPI).
// Built with Open MPI when CMake finds it; without, or when no launcher started the process,
// the world is this process alone and nothing calls MPI.
#pragma once

#include <string>
#include <vector>

namespace maxact::cli {

class MpiWorld {
 public:
  // Initialises MPI when a launcher's environment says this process is one of several ranks.
  static MpiWorld& get();
  ~MpiWorld();
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool several() const { return size_ > 1; }
  // Every rank's bytes, indexed by rank, on rank 0 (collective; other ranks get nothing).
  std::vector<std::string> gather(const std::string& mine) const;
  // Waits for every rank (collective).
  void barrier() const;
  // Ends every rank of the job with `code` (a rank's error ends the job, no report is written).
  [[noreturn]] void abort(int code) const;

 private:
  MpiWorld();
  int rank_ = 0, size_ = 1;
  bool initialized_ = false;
};

// "Open MPI 4.1.4" (the library maxact was built with), or "" without MPI.
std::string mpi_library();
// "rank R of N: " when a launcher started this process as one of several ranks (its environment
// says so, read without initialising MPI), else "": what a rank's error message starts with.
std::string rank_prefix();

// After a rank's error is printed: ends the whole job when this process is one of several ranks
// (the others would wait for it forever); returns otherwise.
void end_job_on_error(int code);

}  // namespace maxact::cli
