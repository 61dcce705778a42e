#include "packet_buffers.h"

#include <thread>

#include "harness.h"

namespace inception::test {

uint64_t buffers_in_use(const nlohmann::json& stats) {
  const auto pools = stats.is_object() ? stats.find("mempools") : stats.end();
  if (!stats.is_object() || pools == stats.end() || !pools->is_array() || pools->empty() || !(*pools)[0].is_object() ||
      !(*pools)[0].contains("in_use") || !(*pools)[0]["in_use"].is_number()) {
    ADD_FAILURE() << "stats shows no packet buffer pool";
    return 0;
  }
  return (*pools)[0]["in_use"].get<uint64_t>();
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
