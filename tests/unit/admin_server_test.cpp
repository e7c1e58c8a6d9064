// The admin server's own life cycle: it stops however soon after its start, and it answers.
#include "admin/admin_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

using namespace sidecar::host;

// A start followed at once by a stop (the pipeline failing to start right after the admin
// server did): cpp-httplib 0.11 ignored a stop() that came before its listening thread ran, and
// the join then waited for good.
TEST(AdminServer, StopsRightAfterItsStart) {
  // Detached, so that a hang fails the test instead of hanging it.
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  std::thread([done] {
    for (int i = 0; i < 200; ++i) {
      AdminServer server([](std::string*) { return true; }, [] { return std::string(); });
      server.start("127.0.0.1:0");
      server.stop();
    }
    done->set_value();
  }).detach();
  EXPECT_EQ(finished.wait_for(std::chrono::seconds(30)), std::future_status::ready)
      << "a stop right after a start did not end the server";
}
