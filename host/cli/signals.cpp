#include <csignal>

#include <atomic>

#include "cli/commands.hpp"

namespace sidecar::host {

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }
}  // namespace

bool stop_requested() { return g_stop != 0; }

void install_stop_signals(bool graceful) {
  std::signal(SIGPIPE, SIG_IGN);
  // Only the commands that watch stop_requested() (run, listen) take SIGTERM and SIGINT over;
  // for the others, which wait in calls that know nothing of it (publish's request, migrate),
  // the default action ends them at once, as a user pressing Ctrl-C expects.
  if (!graceful) return;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

}  // namespace sidecar::host
