// The control socket's event loop, with a stand-in handler and limits short
// enough to watch them act: what the daemon tests cannot reach cheaply (a
// client that never reads a large reply, a handler that throws).
#include "control/control_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "harness.h"

namespace inception {
namespace {

using namespace std::chrono_literals;
using test::Clock;
using test::UnixClient;

constexpr ControlLimits kLimits{300ms, 1024, 4};

class ControlServerTest : public ::testing::Test {
 protected:
  std::string serve(ControlServer::Handler handler, ControlLimits limits = kLimits) {
    server_ = std::make_unique<ControlServer>(socket_, std::move(handler), limits);
    return socket_;
  }
  test::TempDir dir_{"control-server"};
  std::string socket_ = dir_.file("ctl.sock");
  std::unique_ptr<ControlServer> server_;
};

std::string echo(const std::string& line) {
  return "echo " + line;
}

TEST_F(ControlServerTest, ARequestEndedByEofIsStillARequest) {
  serve(echo);
  UnixClient client(socket_);
  client.send("ping");
  client.shut_write();
  EXPECT_EQ(client.read_line(), "echo ping");
  EXPECT_TRUE(client.wait_closed(1s));
}

TEST_F(ControlServerTest, AHandlerThatThrowsIsAnsweredAndServingGoesOn) {
  serve([](const std::string& line) -> std::string {
    if (line == "boom") throw std::runtime_error("controller exploded");
    return echo(line);
  });
  UnixClient boom(socket_);
  boom.send("boom\n");
  EXPECT_EQ(boom.read_line(), R"({"error":"internal error: controller exploded","ok":false})");
  EXPECT_EQ(test::raw_request(socket_, "next\n"), "echo next");
}

TEST_F(ControlServerTest, AClientThatNeverReadsItsReplyIsDroppedAtItsDeadline) {
  const std::string big(16 << 20, 'x');
  std::atomic<bool> big_answered{false};
  serve(
      [&](const std::string& line) {
        if (line != "big") return echo(line);
        big_answered = true;
        return big;
      },
      {1s, 1024, 4});
  UnixClient hoarder(socket_);
  hoarder.send("big\n");
  ASSERT_TRUE(test::eventually([&] { return big_answered.load(); }, 1s, 1ms));
  // While the hoarder's reply waits, others are served.
  EXPECT_EQ(test::raw_request(socket_, "hello\n"), "echo hello");
  EXPECT_FALSE(hoarder.wait_closed(0ms)) << "served only once the hoarder was dropped";
  // At its deadline the hoarder is closed with most of the reply unsent.
  EXPECT_TRUE(hoarder.wait_closed(2s));
  EXPECT_EQ(hoarder.read_line(1s), std::nullopt);
  EXPECT_GT(hoarder.received_bytes(), 0u);
  EXPECT_LT(hoarder.received_bytes(), big.size());
}

TEST_F(ControlServerTest, AnOversizedLineIsRefusedUnread) {
  serve(echo);
  UnixClient client(socket_);
  client.send(std::string(1025, 'a') + "\n");
  EXPECT_EQ(client.read_line(), R"({"error":"request is longer than 1024 bytes","ok":false})");
  EXPECT_EQ(test::raw_request(socket_, std::string(1024, 'a') + "\n"), "echo " + std::string(1024, 'a'));
}

TEST_F(ControlServerTest, AtTheCapTheOldestConnectionMakesRoom) {
  serve(echo);
  std::vector<std::unique_ptr<UnixClient>> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(std::make_unique<UnixClient>(socket_));
  EXPECT_EQ(test::raw_request(socket_, "still here\n"), "echo still here");
  EXPECT_EQ(idle[0]->read_line(1s),
            R"({"error":"inceptiond has 4 control connections open; this one was the oldest","ok":false})");
  EXPECT_TRUE(idle[0]->wait_closed(1s));
  EXPECT_FALSE(idle[1]->wait_closed(0ms));
}

TEST_F(ControlServerTest, ASilentClientIsClosedAtItsDeadlineWithAReason) {
  serve(echo);
  UnixClient silent(socket_);
  silent.send("half a req");
  const auto start = Clock::now();
  EXPECT_EQ(silent.read_line(2s), R"({"error":"no complete request within 300 ms","ok":false})");
  EXPECT_GE(Clock::now() - start, 200ms);
  EXPECT_TRUE(silent.wait_closed(1s));
}

}  // namespace
}  // namespace inception
