#pragma once
// Runs the real `sidecar` binary for integration tests: writes a config, starts the process,
// waits for /readyz, and stops it by the pid it started.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sidecar::test {

// A loopback TCP port nothing listens on right now.
int free_port();
std::string build_dir();   // SIDECAR_BUILD_DIR, or the build dir this test was compiled in
std::string source_dir();  // SIDECAR_SOURCE_DIR, or the source dir this test was compiled from
std::string sidecar_bin();
std::string temp_dir();                          // a fresh directory under the system temp dir
std::string env_or_fail(const char* name);       // throws when unset: services come from make test
std::string read_text(const std::string& path);  // a whole file; empty when it cannot be read

struct HttpResult {
  int status = 0;
  std::string body;
};
HttpResult http_get(const std::string& host_port, const std::string& path);

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs `sidecar ARGS...` to completion.
RunResult run_sidecar(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {},
                      std::chrono::seconds timeout = std::chrono::seconds(60));

class SidecarProcess {
 public:
  // `config` is YAML text written to a file of its own.
  SidecarProcess(std::string config, std::map<std::string, std::string> env = {});
  ~SidecarProcess();
  SidecarProcess(const SidecarProcess&) = delete;
  SidecarProcess& operator=(const SidecarProcess&) = delete;

  void start();
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // SIGTERM and wait; returns the exit code (or 128+signal).
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void kill_hard();  // SIGKILL and reap
  [[nodiscard]] bool running();
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& admin() const { return admin_; }
  [[nodiscard]] const std::string& config_path() const { return config_path_; }
  [[nodiscard]] std::string log() const;  // what it wrote to stderr

 private:
  int wait_exit(std::chrono::milliseconds timeout);
  std::string config_;
  std::map<std::string, std::string> env_;
  std::string dir_, config_path_, log_path_, admin_;
  pid_t pid_ = -1;
};

}  // namespace sidecar::test
