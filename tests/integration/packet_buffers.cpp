#include "packet_buffers.h"

#include <thread>

#include "harness.h"

namespace inception::test {

uint64_t buffers_in_use(const nlohmann::json& stats) {
  static const nlohmann::json::json_pointer kInUse("/mempools/0/in_use");
  if (!stats.contains(kInUse) || !stats.at(kInUse).is_number()) {
    ADD_FAILURE() << "stats shows no packet buffer pool";
    return 0;
  }
  return stats.at(kInUse).get<uint64_t>();
}

uint64_t settled_buffers_in_use(const std::function<nlohmann::json()>& stats) {
  uint64_t last = buffers_in_use(stats());
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(150ms);
    const uint64_t now = buffers_in_use(stats());
    if (now == last) return now;
    last = now;
  }
  return last;
}

::testing::AssertionResult no_buffer_leaked(const std::function<nlohmann::json()>& stats, uint64_t baseline) {
  if (eventually([&] { return buffers_in_use(stats()) <= baseline; }, 5s)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "packet buffers in use: " << buffers_in_use(stats()) << ", baseline "
                                       << baseline;
}

}  // namespace inception::test
