// The wide copy-and-sum (dataplane/offload/checksum.h) against DPDK's own
// word-at-a-time checksum, on every length and alignment a segment's payload
// may have, and across chains whose pieces split words.
#include "dataplane/offload/checksum.h"

#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace inception::test {
namespace {

TEST(Checksum, CopyAndSumCopiesAndSumsLikeDpdkAtEveryLengthAndAlignment) {
  std::mt19937 random(12345);
  std::vector<uint8_t> from(2100);
  for (auto& b : from) b = static_cast<uint8_t>(random());
  // All ones in every byte makes the lanes' carries count.
  std::vector<uint8_t> ones(2100, 0xff);
  for (const std::vector<uint8_t>* data : {&from, &ones}) {
    for (uint32_t align = 0; align < 8; ++align) {
      for (uint32_t length = 0; length <= 2048; length += (length < 130 ? 1 : 61)) {
        std::vector<uint8_t> to(2100, 0xa5);
        const uint8_t* src = data->data() + align;
        const checksum::Sum copied = checksum::copy_and_sum(to.data() + 3, src, length);
        const uint16_t expected = rte_raw_cksum(src, length);
        ASSERT_EQ(checksum::fold(copied), expected) << "length " << length << ", alignment " << align;
        ASSERT_EQ(checksum::fold(checksum::sum(src, length)), expected) << "length " << length;
        ASSERT_EQ(checksum::fold(checksum::copy_and_sum_baseline(to.data() + 3, src, length)), expected)
            << "without AVX2, length " << length;
        ASSERT_TRUE(std::equal(src, src + length, to.begin() + 3)) << "length " << length;
        ASSERT_EQ(to[2], 0xa5) << "wrote before the copy";
        ASSERT_EQ(to[3 + length], 0xa5) << "wrote past the copy of " << length;
      }
    }
  }
}

TEST(Checksum, AChainSplitAtOddOffsetsSumsLikeOneBuffer) {
  rte_mempool* pool = rte_pktmbuf_pool_create("cksum_test", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);
  std::mt19937 random(7);
  std::vector<uint8_t> data(1500);
  for (auto& b : data) b = static_cast<uint8_t>(random());
  // Pieces of odd and even lengths, so that words straddle the pieces.
  const std::vector<uint16_t> pieces = {33, 1, 200, 7, 64, 1195};
  rte_mbuf* head = nullptr;
  uint32_t at = 0;
  for (const uint16_t n : pieces) {
    rte_mbuf* piece = rte_pktmbuf_alloc(pool);
    ASSERT_NE(piece, nullptr);
    std::memcpy(rte_pktmbuf_append(piece, n), data.data() + at, n);
    at += n;
    if (head == nullptr)
      head = piece;
    else
      ASSERT_EQ(rte_pktmbuf_chain(head, piece), 0);
  }
  for (const uint32_t offset : {0U, 1U, 30U, 34U, 35U, 240U}) {
    const uint32_t length = at - offset - 5;
    checksum::Sum sum = 0;
    ASSERT_TRUE(checksum::sum_chain(head, offset, length, &sum));
    EXPECT_EQ(checksum::fold(sum), rte_raw_cksum(data.data() + offset, length)) << "from " << offset;
  }
  checksum::Sum sum = 0;
  EXPECT_FALSE(checksum::sum_chain(head, 10, at, &sum)) << "more bytes than the chain holds";
  rte_pktmbuf_free(head);
  rte_mempool_free(pool);
}

}  // namespace
}  // namespace inception::test
