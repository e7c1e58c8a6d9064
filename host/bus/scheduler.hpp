#pragma once
// Runs tasks after a delay on one thread: re-publishing after a transport refused a message must
// not block the transport's own thread, which delivered the refusal.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace sidecar::host {

class Scheduler {
 public:
  Scheduler();
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void after(std::chrono::milliseconds delay, std::function<void()> task);
  // Runs nothing more; pending tasks are dropped.
  void stop();

 private:
  struct Task {
    std::chrono::steady_clock::time_point at;
    std::uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Task& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Task, std::vector<Task>, std::greater<>> tasks_;
  std::uint64_t seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sidecar::host
