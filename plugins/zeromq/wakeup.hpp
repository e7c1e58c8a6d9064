#pragma once
// An eventfd the I/O thread polls beside its sockets, so another thread can wake it at once
// without a sleep loop. Level-triggered: it stays readable until drain().
namespace sidecar::zeromq {

class Wakeup {
 public:
  Wakeup();  // throws std::system_error when no eventfd can be made
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_; }
  void signal() noexcept;
  void drain() noexcept;

 private:
  int fd_ = -1;
};

}  // namespace sidecar::zeromq
