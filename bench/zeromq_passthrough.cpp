// bench/zeromq_passthrough: N small messages through `sidecar` (ZeroMQ in, echo handler, ZeroMQ
// out, a reply for each), and in the same run through a bare cppzmq ROUTER that does the same
// wire work (reply to the requester, publish the event). Prints both rates and their ratio, the
// sidecar's resident memory idle and after, and its time from start to /readyz answering 200.
//   zeromq_passthrough [messages=1000000] [window=2000] [rounds=3]
#include <fmt/format.h>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "sidecar_process.hpp"

using namespace std::chrono;
using sidecar::test::free_port;

namespace {

const std::string kPayload = R"({"order_id":111,"n":12345,"pad":"0123456789abcdef"})";

// Sends `n` requests keeping at most `window` unanswered; returns messages per second.
double drive(const std::string& endpoint, long n, long window) {
  zmq::context_t ctx;
  zmq::socket_t d(ctx, zmq::socket_type::dealer);
  d.set(zmq::sockopt::linger, 0);
  d.set(zmq::sockopt::sndhwm, 0);
  d.set(zmq::sockopt::rcvhwm, 0);
  d.connect(endpoint);
  long sent = 0, received = 0;
  auto t0 = steady_clock::now();
  zmq::pollitem_t items[] = {{d.handle(), 0, ZMQ_POLLIN, 0}};
  while (received < n) {
    while (sent < n && sent - received < window) {
      d.send(zmq::buffer(std::string_view("in")), zmq::send_flags::sndmore);
      d.send(zmq::buffer(kPayload), zmq::send_flags::none);
      ++sent;
    }
    if (zmq::poll(items, 1, milliseconds(10000)) == 0) {
      fmt::print(stderr, "timed out after {} replies\n", received);
      return 0;
    }
    // Drain every reply that is ready.
    while (true) {
      zmq::message_t m;
      if (!d.recv(m, zmq::recv_flags::dontwait)) break;
      while (m.more()) (void)d.recv(m, zmq::recv_flags::none);
      ++received;
    }
  }
  return static_cast<double>(n) / duration<double>(steady_clock::now() - t0).count();
}

// The baseline: what the sidecar does on the wire, with nothing in between.
double bare_echo(long n, long window) {
  zmq::context_t ctx;
  int in_port = free_port(), out_port = free_port();
  std::atomic<bool> stop{false};
  std::thread server([&] {
    zmq::socket_t router(ctx, zmq::socket_type::router);
    zmq::socket_t pub(ctx, zmq::socket_type::pub);
    router.set(zmq::sockopt::linger, 0);
    pub.set(zmq::sockopt::linger, 0);
    router.set(zmq::sockopt::sndhwm, 0);
    router.set(zmq::sockopt::rcvhwm, 0);
    router.bind("tcp://127.0.0.1:" + std::to_string(in_port));
    pub.bind("tcp://127.0.0.1:" + std::to_string(out_port));
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
    while (!stop) {
      if (zmq::poll(items, 1, milliseconds(50)) == 0) continue;
      zmq::message_t id, topic, payload;
      while (router.recv(id, zmq::recv_flags::dontwait)) {
        (void)router.recv(topic);
        (void)router.recv(payload);
        pub.send(zmq::buffer(std::string_view("echoed")), zmq::send_flags::sndmore);
        pub.send(payload, zmq::send_flags::none);
        router.send(id, zmq::send_flags::sndmore);
        router.send(zmq::buffer(std::string_view("ok")), zmq::send_flags::sndmore);
        router.send(zmq::buffer(std::string_view("handled")), zmq::send_flags::none);
      }
    }
  });
  std::this_thread::sleep_for(milliseconds(100));
  double rate = drive("tcp://127.0.0.1:" + std::to_string(in_port), n, window);
  stop = true;
  server.join();
  return rate;
}

// User + system CPU seconds the process has used: per message, a figure that noise from other
// processes on the machine disturbs much less than a rate.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stod(f);
    if (i == 15) stime = std::stod(f);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::stol(argv[1]) : 1'000'000;
  long window = argc > 2 ? std::stol(argv[2]) : 2000;
  int in_port = free_port(), out_port = free_port();
  std::string config = fmt::format(R"(log_level: warn
plugin_dir: ${{SIDECAR_PLUGIN_DIR}}
admin: ${{ADMIN_ADDR}}
bus:
  workers: 2
  queue_capacity: 8192
transports:
  zmq:
    plugin: zeromq
    options:
      bind_in: tcp://127.0.0.1:{}
      bind_out: tcp://127.0.0.1:{}
      sndhwm: 0
      rcvhwm: 0
handlers:
  echo:
    plugin: echo
    batch_size: 64
    options:
      to: echoed
routes:
  - {{topic: in, transport: zmq, handler: echo}}
outputs:
  "*": zmq
)",
                                   in_port, out_port);

  int rounds = argc > 3 ? std::stoi(argv[3]) : 3;
  fmt::print(
      "zeromq_passthrough: {} messages of {} bytes, window {}, best of {} alternating rounds\n", n,
      kPayload.size(), window, rounds);

  sidecar::test::SidecarProcess proc(config);
  auto t0 = steady_clock::now();
  proc.start();
  if (!proc.wait_ready(seconds(20))) {
    fmt::print(stderr, "sidecar did not become ready:\n{}\n", proc.log());
    return 1;
  }
  auto ready_ms = duration<double, std::milli>(steady_clock::now() - t0).count();
  std::this_thread::sleep_for(milliseconds(200));
  long idle = rss_kb(proc.pid());
  // The machine is shared: alternate the two and keep each one's best round.
  double base = 0, side = 0, cpu_per_msg_us = 0;
  for (int r = 0; r < rounds; ++r) {
    base = std::max(base, bare_echo(n, window));
    double cpu0 = cpu_seconds(proc.pid());
    double rate = drive("tcp://127.0.0.1:" + std::to_string(in_port), n, window);
    double cpu = (cpu_seconds(proc.pid()) - cpu0) / static_cast<double>(n) * 1e6;
    if (rate > side) {
      side = rate;
      cpu_per_msg_us = cpu;
    }
  }
  long after = rss_kb(proc.pid());
  int code = proc.terminate();
  fmt::print("  bare cppzmq ROUTER echo + PUB     : {:>10.0f} msgs/s\n", base);
  fmt::print("  sidecar (zeromq -> echo -> zeromq): {:>10.0f} msgs/s\n", side);
  fmt::print("  ratio sidecar / bare              : {:>10.2f}   (goal >= 0.80)\n",
             base > 0 ? side / base : 0);
  fmt::print("  sidecar CPU per message           : {:>10.2f} us\n", cpu_per_msg_us);
  fmt::print("  resident memory idle              : {:>10.1f} MB (goal <= 20)\n", idle / 1024.0);
  fmt::print("  resident memory after the run     : {:>10.1f} MB (goal <= 64)\n", after / 1024.0);
  fmt::print("  start to /readyz 200              : {:>10.1f} ms (goal <= 200)\n", ready_ms);
  fmt::print("  exit code after SIGTERM           : {:>10}\n", code);
  return side > 0 && code == 0 ? 0 : 1;
}
