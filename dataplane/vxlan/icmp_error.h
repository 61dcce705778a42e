// ICMP "fragmentation needed" (RFC 792 type 3 code 4, with the next-hop MTU
// of RFC 1191) for frames too big for the overlay, so that a guest's path
// MTU discovery learns the overlay MTU instead of black-holing.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

namespace inception {

// Builds the error answering `original` (an Ethernet + IPv4 frame with DF
// set), sent as if from the original destination back to the source.
// Returns nullptr when no error may be sent (not IPv4, DF clear, a fragment,
// itself an ICMP error, a broadcast source) or the pool is empty.
rte_mbuf* make_fragmentation_needed(rte_mempool* pool, const rte_mbuf* original, uint16_t mtu) noexcept;

}  // namespace inception
