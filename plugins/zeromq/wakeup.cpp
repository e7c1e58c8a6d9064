#include "wakeup.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace sidecar::zeromq {

Wakeup::Wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

Wakeup::~Wakeup() { ::close(fd_); }

void Wakeup::signal() noexcept {
  std::uint64_t one = 1;
  // EAGAIN means the counter is saturated, i.e. already readable: nothing is lost.
  while (::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void Wakeup::drain() noexcept {
  std::uint64_t count = 0;
  while (::read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

}  // namespace sidecar::zeromq
