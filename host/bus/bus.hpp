#pragma once
// The bus between transports and handlers: per-key order (a key always goes to the same worker),
// bounded in-flight work (transports are paused when it fills), batches handed to handlers,
// acknowledgement only once an outcome is final, retries with backoff, dead letters.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "admin/metrics.hpp"
#include "bus/backoff.hpp"
#include "bus/scheduler.hpp"
#include "config/config.hpp"
#include "sidecar/handler.hpp"
#include "sidecar/transport.hpp"

namespace sidecar::host {

// Sends a message through the transport routed for its topic.
using Publisher = std::function<void(const Message&, PublishCallback)>;

struct BusOptions {
  BusConfig bus;
  std::size_t max_message_bytes = 1 << 20;
  std::string dead_letter_topic = "dlq";
  // Whether an emitted topic has a transport to go to (empty: every topic has). A message whose
  // outcome emits to a topic with none could never be acknowledged (its publish would be
  // refused, and retried, for good) and is dead-lettered instead.
  std::function<bool(const std::string&)> has_output;
};

struct BusHandler {
  std::string name;
  Handler* handler = nullptr;
  std::size_t batch_size = 1;
};

struct BusRoute {
  std::string topic;
  std::size_t transport = 0;
  std::size_t handler = 0;
  std::string key_field;
};

class Bus {
 public:
  Bus(BusOptions options, std::vector<Transport*> transports,
      std::vector<std::string> transport_names, std::vector<BusHandler> handlers,
      const std::vector<BusRoute>& routes, Publisher publisher, Metrics& metrics);
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // From a transport's thread; never blocks.
  void deliver(std::size_t transport, Message msg);
  void deliver_burst(std::size_t transport, std::vector<Message>& msgs);
  void start();
  // Shutdown begins: the transports are never resumed again, whatever is acknowledged from now
  // on. Once it returns, no resume is under way either, so transports paused after it stay so.
  void close();
  // Stops resuming transports, waits until every delivered message is final (or the timeout).
  // Returns true when nothing is left in flight.
  bool drain(std::chrono::milliseconds timeout);
  // Stops the workers; anything still queued is left unacknowledged (a broker re-delivers it).
  void stop();

  [[nodiscard]] std::size_t in_flight() const { return in_flight_.load(); }
  [[nodiscard]] bool paused() const;

  // The sink a transport delivers into.
  InboundSink& sink(std::size_t transport);

 private:
  struct RouteState {
    BusRoute route;
    Series* in = nullptr;
    Series* handled = nullptr;
    Series* duplicates = nullptr;
    Series* dead = nullptr;
    Series* retries = nullptr;
    Series* failures = nullptr;
    Histogram* latency = nullptr;
  };
  struct Item {
    Message msg;
    std::size_t transport = 0;
    RouteState* route = nullptr;
    int failures = 0;
  };
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Item> queue;
    bool idle = false;  // waiting on cv: a push must notify
    std::thread thread;
  };
  class Sink;
  // A message whose ack waits for `left` publishes to be confirmed.
  struct PendingAck {
    std::atomic<std::size_t> left{1};
    Item item;
    Reply reply;
  };
  // A message kept until its transport confirms it, to be sent again after a refusal. The
  // common case, one publish per acked message, needs this one allocation: the ack waits inline.
  struct PublishAttempt {
    Bus* bus = nullptr;
    Message msg;
    PendingAck own;
    std::shared_ptr<PendingAck> shared;  // when several publishes share one ack
    Backoff backoff{std::chrono::milliseconds{100}, std::chrono::milliseconds{10'000}};
    std::shared_ptr<PublishAttempt> self;  // held for the transport's callback while it publishes
    PendingAck& pending() { return shared ? *shared : own; }
  };

  // Routes, counts and keys a delivered message; the worker it goes to, or nothing when it was
  // answered already (no route, too large).
  std::optional<std::size_t> admit(std::size_t transport, Message& msg, Item& item);
  void enqueue(std::size_t worker, Item item);
  void worker_loop(std::size_t index);
  void process(std::vector<Item>& batch, std::size_t worker);
  std::vector<Outcome> call_handler(const BusHandler& h, std::vector<Item>& items,
                                    std::size_t worker);
  void finish(Item& item, Outcome& outcome);
  void dead_letter(Item item, std::string reason, const std::string& handler);
  std::shared_ptr<PublishAttempt> new_attempt(Message msg);
  void attempt_publish(std::shared_ptr<PublishAttempt> attempt);
  void ack(const Item& item, const Reply& reply);
  void ack(std::size_t transport, const Message& msg, const Reply& reply);
  bool sleep_for(std::chrono::milliseconds d);  // false when interrupted by stop
  void set_paused(bool paused);

  BusOptions options_;
  std::vector<Transport*> transports_;
  std::vector<std::string> transport_names_;
  std::vector<BusHandler> handlers_;
  // Per transport, by topic; looked up by the message's topic without copying it.
  std::vector<std::map<std::string, std::unique_ptr<RouteState>, std::less<>>> routes_;
  Publisher publisher_;
  Metrics& metrics_;
  Series* in_flight_gauge_;
  Series* paused_gauge_;
  Series* unrouted_;

  std::vector<std::unique_ptr<Sink>> sinks_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::size_t> round_robin_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> closing_{false};  // draining: never resume transports again
  mutable std::mutex pause_mu_;
  bool paused_ = false;
  std::atomic<bool> paused_hint_{false};  // read without the lock on every ack
  std::mutex idle_mu_;
  std::condition_variable idle_cv_;
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  Scheduler scheduler_;
};

}  // namespace sidecar::host
