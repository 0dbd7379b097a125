// A fixed pool of worker threads that sleep between jobs (no spinning, so OpenBLAS's own threads
// get the cores while the pool is idle). parallel_for hands out task indices dynamically; which
// thread runs a task never changes a result, because every task writes its own output.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace maxact {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads <= 0: hardware concurrency
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Runs fn(task, thread) for task in [0, tasks); thread in [0, size()). The calling thread
  // works too. Exceptions are rethrown here (the first one).
  void parallel_for(int64_t tasks, const std::function<void(int64_t, int)>& fn);

 private:
  void stop_workers();
  void work(int thread);
  void run_tasks(int thread);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t, int)>* fn_ = nullptr;
  int64_t tasks_ = 0, next_ = 0;
  int busy_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

// Splits [0, n) into `parts` contiguous ranges; range i is [begin, end).
inline void split_range(int64_t n, int64_t parts, int64_t i, int64_t& begin, int64_t& end) {
  begin = n * i / parts;
  end = n * (i + 1) / parts;
}

}  // namespace maxact
