#include "bus/scheduler.hpp"

namespace sidecar::host {

Scheduler::Scheduler() : thread_([this] { loop(); }) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::after(std::chrono::milliseconds delay, std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    tasks_.push(Task{std::chrono::steady_clock::now() + delay, seq_++, std::move(task)});
  }
  cv_.notify_one();
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  while (!tasks_.empty()) tasks_.pop();
}

void Scheduler::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto at = tasks_.top().at;
    if (std::chrono::steady_clock::now() < at) {
      cv_.wait_until(lock, at);
      continue;
    }
    auto fn = std::move(const_cast<Task&>(tasks_.top()).fn);
    tasks_.pop();
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace sidecar::host
