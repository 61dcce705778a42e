// The control socket's request handler (handle_request_line) on a real
// Controller over a Dataplane whose workers are not started: what any
// client of the socket can send, including bytes that are not JSON or not
// UTF-8, gets one JSON response line and leaves the daemon running.
#include "control/api.h"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "inception/log.h"

namespace inception::test {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log::set_level(log::Level::kError);
    DataplaneOptions options;
    options.worker_lcores = {1};  // never started
    options.mbufs = 2048;
    dataplane_ = new Dataplane(options);
  }
  static void TearDownTestSuite() {
    delete dataplane_;
    dataplane_ = nullptr;
  }
  void SetUp() override {
    config_.metrics.enabled = false;
    controller_ = std::make_unique<Controller>(config_, *dataplane_);
    controller_->apply(config_);
  }

  nlohmann::json call(const std::string& line) {
    const std::string response = handle_request_line(*controller_, line);
    EXPECT_EQ(response.find('\n'), std::string::npos) << "one response line";
    return nlohmann::json::parse(response);
  }

  static Dataplane* dataplane_;
  Config config_;
  std::unique_ptr<Controller> controller_;
};

Dataplane* ApiTest::dataplane_ = nullptr;

TEST_F(ApiTest, ARequestLineIsAnswered) {
  const auto response = call(R"({"version":1,"command":"network.add","args":{"name":"blue","vni":2001}})");
  EXPECT_EQ(response["ok"], true);
  EXPECT_EQ(call(R"({"version":1,"command":"network.list"})")["result"][0]["name"], "blue");
}

// Found by tests/fuzz/control_fuzz.cpp: the parser's error message quotes
// the bytes it stopped at, and serialising a response holding bytes that
// are not UTF-8 threw, out of the control thread: the daemon aborted.
TEST_F(ApiTest, BytesThatAreNotUtf8GetAnErrorNotACrash) {
  const auto response = call(
      "{\"version\":\xff\xff\xff\xff\xff\xff\xff\xff"
      "1,\"command\":\"stats\",\"args\":{}}");
  EXPECT_EQ(response["ok"], false);
  EXPECT_TRUE(response["error"].get<std::string>().starts_with("malformed request: ")) << response;
  // Inside a string, too.
  EXPECT_EQ(call("{\"version\":1,\"command\":\"\xc3\x28\"}")["ok"], false);
  EXPECT_EQ(call(R"({"version":1,"command":"network.list"})")["ok"], true) << "and the next request is served";
}

}  // namespace
}  // namespace inception::test
