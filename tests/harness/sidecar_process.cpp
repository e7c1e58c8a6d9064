#include "sidecar_process.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace sidecar::test {

namespace fs = std::filesystem;

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("free_port: bind failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string build_dir() {
  if (const char* b = std::getenv("SIDECAR_BUILD_DIR")) return b;
  return SIDECAR_DEFAULT_BUILD_DIR;
}

std::string source_dir() {
  if (const char* s = std::getenv("SIDECAR_SOURCE_DIR")) return s;
  return SIDECAR_DEFAULT_SOURCE_DIR;
}

std::string sidecar_bin() { return build_dir() + "/bin/sidecar"; }

std::string temp_dir() {
  static std::mt19937_64 rng{std::random_device{}()};
  auto dir = fs::temp_directory_path() / ("sidecar-test-" + std::to_string(::getpid()) + "-" +
                                          std::to_string(rng() % 1000000000));
  fs::create_directories(dir);
  return dir.string();
}

std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    throw std::runtime_error(std::string(name) +
                             " is not set: run the tests through `make test` (tests/run.sh), which "
                             "starts the services they need");
  }
  return v;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

HttpResult http_get(const std::string& host_port, const std::string& path) {
  auto colon = host_port.rfind(':');
  httplib::Client cli(host_port.substr(0, colon), std::stoi(host_port.substr(colon + 1)));
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(5, 0);
  auto res = cli.Get(path.c_str());
  if (!res) return {};
  return {res->status, res->body};
}

namespace {

std::vector<std::string> merged_env(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& out_path, const std::string& err_path) {
  std::vector<std::string> argv_s{sidecar_bin()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto env_s = merged_env(env);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + argv_s[0]);
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

RunResult run_sidecar(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env, std::chrono::seconds timeout) {
  auto dir = temp_dir();
  pid_t pid = spawn(args, env, dir + "/out", dir + "/err");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  RunResult res{decode_status(status), read_text(dir + "/out"), read_text(dir + "/err")};
  fs::remove_all(dir);
  return res;
}

SidecarProcess::SidecarProcess(std::string config, std::map<std::string, std::string> env)
    : config_(std::move(config)), env_(std::move(env)) {
  dir_ = temp_dir();
  config_path_ = dir_ + "/sidecar.yaml";
  log_path_ = dir_ + "/sidecar.log";
  if (!env_.count("ADMIN_ADDR")) env_["ADMIN_ADDR"] = "127.0.0.1:" + std::to_string(free_port());
  admin_ = env_["ADMIN_ADDR"];
  if (!env_.count("SIDECAR_PLUGIN_DIR")) env_["SIDECAR_PLUGIN_DIR"] = build_dir() + "/plugins";
  std::ofstream(config_path_) << config_;
}

SidecarProcess::~SidecarProcess() {
  if (pid_ > 0) kill_hard();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void SidecarProcess::start() {
  pid_ = spawn({"run", "-c", config_path_}, env_, dir_ + "/stdout", log_path_);
}

bool SidecarProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

bool SidecarProcess::wait_ready(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return false;
    if (http_get(admin_, "/readyz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int SidecarProcess::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return decode_status(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

int SidecarProcess::terminate(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int code = wait_exit(timeout);
  if (code == -1) kill_hard();
  return code;
}

void SidecarProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string SidecarProcess::log() const { return read_text(log_path_); }

}  // namespace sidecar::test
