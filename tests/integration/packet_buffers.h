// Leak checks on the switch's packet buffer pool, read from `stats`.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>

namespace inception::test {

// The packet buffers in use in the first pool `stats` lists (an assertion
// failure, and 0, if it lists none).
uint64_t buffers_in_use(const nlohmann::json& stats);

// The count once it has held still for a moment: a frame still on its way
// (a flood copy, a frame handed to the rVM's stack) holds a buffer for a
// while, so a count read at once can sit above what the switch keeps.
uint64_t settled_buffers_in_use(const std::function<nlohmann::json()>& stats);

// Passes when the switch comes back (within 5 s) to holding no more
// packet buffers than `baseline`: anything above it is a leaked buffer.
::testing::AssertionResult no_buffer_leaked(const std::function<nlohmann::json()>& stats, uint64_t baseline);

}  // namespace inception::test
