#pragma once
// A fresh database for this binary, known stock before each test, and handlers made the way the
// host makes them (declared options with their defaults).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "order_reservation.hpp"
#include "sidecar/testkit.hpp"
#include "testdb.hpp"

namespace sidecar::order_reservation::test {

using namespace sidecar::inventory::testing;

class ReservationTest : public HandlerTest {
 protected:
  static void SetUpTestSuite() { open("sidecar_test_order_reservation"); }

  // relay off unless asked: most tests read the outbox table itself.
  std::unique_ptr<OrderReservation> make(std::map<std::string, OptionValue> given = {}) {
    given.try_emplace("relay", false);
    return make_handler<OrderReservation>(std::move(given));
  }

  static Message order(const std::string& payload, std::int64_t order_id) {
    return testkit::message("order", std::to_string(order_id), payload);
  }

  Outcome one(OrderReservation& h, const std::string& payload, std::int64_t order_id = 0) {
    auto out = host_.handle(h, {order(payload, order_id)});
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? Outcome::failed("no outcome") : out[0];
  }

  std::vector<nlohmann::json> outbox_events() {
    std::vector<nlohmann::json> out;
    for (const auto& p : rows(dsn_, "SELECT payload FROM outbox ORDER BY id")) {
      out.push_back(nlohmann::json::parse(p));
    }
    return out;
  }

  std::int64_t held() { return count_of(dsn_, "SELECT count(*) FROM reservations"); }

  testkit::Host host_;
};

}  // namespace sidecar::order_reservation::test
