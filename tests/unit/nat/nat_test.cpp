// Address translation on hand-built frames: every checksum is recomputed
// from scratch after the incremental update and must match; ICMP errors
// have their quoted packet translated; SNAT sessions are created, found
// from both sides, bounded and expired.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_malloc.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../dataplane/test_frames.h"
#include "nat/snat.h"
#include "nat/translate.h"

namespace inception::test {
namespace {

using nat::flow_key;
using nat::FlowKey;
using nat::translate_destination;
using nat::translate_source;

uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return rte_cpu_to_be_32(uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d);
}
uint16_t be16(uint16_t v) {
  return rte_cpu_to_be_16(v);
}

// RFC 1071 over bytes, independent of the code under test.
uint32_t sum_bytes(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t{p[i]} << 8 | p[i + 1];
  if (n % 2) sum += uint32_t{p[n - 1]} << 8;
  return sum;
}
uint16_t finish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
uint16_t get16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// Fills the IPv4 checksum and the transport checksum of the packet at `l3`.
void finish_checksums(uint8_t* l3, bool udp_zero = false) {
  const size_t ihl = (l3[0] & 0xf) * 4;
  const size_t total = get16(l3 + 2);
  put16(l3 + 10, 0);
  put16(l3 + 10, finish(sum_bytes(l3, ihl)));
  uint8_t* l4 = l3 + ihl;
  const size_t l4_len = total - ihl;
  const uint8_t proto = l3[9];
  uint32_t pseudo = sum_bytes(l3 + 12, 8) + proto + static_cast<uint32_t>(l4_len);
  if (proto == IPPROTO_TCP) {
    put16(l4 + 16, 0);
    put16(l4 + 16, finish(sum_bytes(l4, l4_len, pseudo)));
  } else if (proto == IPPROTO_UDP) {
    put16(l4 + 6, 0);
    if (!udp_zero) {
      const uint16_t c = finish(sum_bytes(l4, l4_len, pseudo));
      put16(l4 + 6, c == 0 ? 0xffff : c);
    }
  } else if (proto == IPPROTO_ICMP) {
    put16(l4 + 2, 0);
    put16(l4 + 2, finish(sum_bytes(l4, l4_len)));
  }
}

// Checks that every checksum of the packet at `l3` verifies.
void expect_checksums_valid(const uint8_t* l3) {
  const size_t ihl = (l3[0] & 0xf) * 4;
  const size_t total = get16(l3 + 2);
  EXPECT_EQ(finish(sum_bytes(l3, ihl)), 0) << "IPv4 header checksum";
  const uint8_t* l4 = l3 + ihl;
  const size_t l4_len = total - ihl;
  const uint32_t pseudo = sum_bytes(l3 + 12, 8) + l3[9] + static_cast<uint32_t>(l4_len);
  if (l3[9] == IPPROTO_TCP) {
    EXPECT_EQ(finish(sum_bytes(l4, l4_len, pseudo)), 0) << "TCP checksum";
  } else if (l3[9] == IPPROTO_UDP && get16(l4 + 6) != 0) {
    EXPECT_EQ(finish(sum_bytes(l4, l4_len, pseudo)), 0) << "UDP checksum";
  } else if (l3[9] == IPPROTO_ICMP) {
    EXPECT_EQ(finish(sum_bytes(l4, l4_len)), 0) << "ICMP checksum";
  }
}

// An Ethernet + IPv4 + transport frame with random-looking payload.
rte_mbuf* packet(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, size_t payload = 33,
                 bool udp_zero = false) {
  const size_t l4_header = proto == IPPROTO_TCP ? 20 : 8;
  const auto total = static_cast<uint16_t>(20 + l4_header + payload);
  rte_mbuf* m = frame("02:00:00:00:00:02", "02:00:00:00:00:01", static_cast<uint16_t>(14 + total), 0x0800);
  uint8_t* l3 = rte_pktmbuf_mtod_offset(m, uint8_t*, 14);
  l3[0] = 0x45;
  put16(l3 + 2, total);
  l3[6] = 0x40;
  l3[8] = 64;
  l3[9] = proto;
  std::memcpy(l3 + 12, &src, 4);
  std::memcpy(l3 + 16, &dst, 4);
  uint8_t* l4 = l3 + 20;
  if (proto == IPPROTO_ICMP) {
    l4[0] = 8;  // echo request
    std::memcpy(l4 + 4, &sport, 2);
  } else {
    std::memcpy(l4, &sport, 2);
    std::memcpy(l4 + 2, &dport, 2);
    if (proto == IPPROTO_UDP) put16(l4 + 4, static_cast<uint16_t>(8 + payload));
    if (proto == IPPROTO_TCP) l4[12] = 0x50, l4[13] = 0x02;
  }
  for (size_t i = 0; i < payload; ++i) l4[l4_header + i] = static_cast<uint8_t>(i * 37 + 11);
  finish_checksums(l3, udp_zero);
  return m;
}

uint8_t* l3_of(rte_mbuf* m) {
  return rte_pktmbuf_mtod_offset(m, uint8_t*, 14);
}

TEST(Translate, SourceAndDestinationKeepEveryChecksumValid) {
  for (uint8_t proto : {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP}) {
    for (size_t payload : {0, 1, 33, 1000}) {
      rte_mbuf* m = packet(proto, ip(192, 0, 2, 2), ip(203, 0, 113, 200), be16(40000), be16(80), payload);
      ASSERT_TRUE(translate_source(m, ip(203, 0, 113, 10), be16(50001)));
      uint8_t* l3 = l3_of(m);
      EXPECT_EQ(std::memcmp(l3 + 12, "\xcb\x00\x71\x0a", 4), 0);
      expect_checksums_valid(l3);
      ASSERT_TRUE(translate_destination(m, ip(10, 0, 0, 7)));
      EXPECT_EQ(std::memcmp(l3 + 16, "\x0a\x00\x00\x07", 4), 0);
      expect_checksums_valid(l3);
      FlowKey key;
      ASSERT_TRUE(flow_key(m, &key));
      EXPECT_EQ(key.src_port, be16(50001)) << int(proto);
      rte_pktmbuf_free(m);
    }
  }
}

TEST(Translate, AZeroUdpChecksumStaysZero) {
  rte_mbuf* m = packet(IPPROTO_UDP, ip(192, 0, 2, 2), ip(203, 0, 113, 200), be16(5000), be16(53), 20, true);
  ASSERT_TRUE(translate_source(m, ip(203, 0, 113, 10), be16(6000)));
  EXPECT_EQ(get16(l3_of(m) + 20 + 6), 0);
  EXPECT_EQ(finish(sum_bytes(l3_of(m), 20)), 0);
  rte_pktmbuf_free(m);
}

TEST(Translate, AComputedZeroUdpChecksumIsSentAsFfff) {
  // Search for a translation whose incremental result is zero.
  for (uint16_t port = 1; port < 65535; ++port) {
    rte_mbuf* m = packet(IPPROTO_UDP, ip(192, 0, 2, 2), ip(203, 0, 113, 200), be16(5000), be16(53), 20);
    translate_source(m, ip(203, 0, 113, 10), be16(port));
    const uint16_t check = get16(l3_of(m) + 26);
    EXPECT_NE(check, 0);
    if (check == 0xffff) {
      expect_checksums_valid(l3_of(m));
      rte_pktmbuf_free(m);
      return;
    }
    rte_pktmbuf_free(m);
  }
  GTEST_SKIP() << "no port produced a zero checksum";
}

// An ICMP error from `router` to `to`, quoting `original` (its IP header + 8 bytes).
rte_mbuf* icmp_error(uint8_t type, uint8_t code, uint32_t router, uint32_t to, rte_mbuf* original) {
  const uint8_t* quoted = l3_of(original);
  const size_t quote = 20 + 8;
  const auto total = static_cast<uint16_t>(20 + 8 + quote);
  rte_mbuf* m = frame("02:00:00:00:00:02", "02:00:00:00:00:01", static_cast<uint16_t>(14 + total), 0x0800);
  uint8_t* l3 = l3_of(m);
  l3[0] = 0x45;
  put16(l3 + 2, total);
  l3[8] = 64;
  l3[9] = IPPROTO_ICMP;
  std::memcpy(l3 + 12, &router, 4);
  std::memcpy(l3 + 16, &to, 4);
  l3[20] = type;
  l3[21] = code;
  std::memcpy(l3 + 28, quoted, quote);
  finish_checksums(l3);
  return m;
}

TEST(Translate, IcmpErrorsHaveTheirQuotedPacketTranslated) {
  // iVM 192.0.2.2:40000 -> server, after SNAT as 203.0.113.10:50001.
  rte_mbuf* sent = packet(IPPROTO_UDP, ip(203, 0, 113, 10), ip(203, 0, 113, 200), be16(50001), be16(33434), 12);
  // A router on the way answers "time exceeded" to the public address.
  rte_mbuf* error = icmp_error(11, 0, ip(10, 0, 0, 1), ip(203, 0, 113, 10), sent);
  FlowKey key;
  ASSERT_TRUE(flow_key(error, &key));
  EXPECT_TRUE(key.icmp_error);
  EXPECT_EQ(key.protocol, IPPROTO_UDP);
  EXPECT_EQ(key.dst_ip, ip(203, 0, 113, 10));  // the quoted source, as seen from here
  EXPECT_EQ(key.dst_port, be16(50001));
  EXPECT_EQ(key.src_ip, ip(203, 0, 113, 200));
  // Inbound translation back to the iVM.
  ASSERT_TRUE(translate_destination(error, ip(192, 0, 2, 2), be16(40000)));
  uint8_t* l3 = l3_of(error);
  EXPECT_EQ(std::memcmp(l3 + 16, "\xc0\x00\x02\x02", 4), 0) << "outer destination";
  const uint8_t* quoted = l3 + 28;
  EXPECT_EQ(std::memcmp(quoted + 12, "\xc0\x00\x02\x02", 4), 0) << "quoted source";
  EXPECT_EQ(get16(quoted + 20), 40000) << "quoted source port";
  expect_checksums_valid(l3);
  EXPECT_EQ(finish(sum_bytes(quoted, 20)), 0) << "quoted IPv4 header checksum";
  rte_pktmbuf_free(sent);
  rte_pktmbuf_free(error);
}

TEST(Translate, RefusesWhatItCannotParse) {
  FlowKey key;
  rte_mbuf* runt = frame("02:00:00:00:00:02", "02:00:00:00:00:01", 20, 0x0800);
  EXPECT_FALSE(flow_key(runt, &key));
  EXPECT_FALSE(translate_source(runt, ip(1, 2, 3, 4)));
  rte_pktmbuf_free(runt);
  rte_mbuf* arp = frame("02:00:00:00:00:02", "02:00:00:00:00:01", 60, 0x0806);
  EXPECT_FALSE(flow_key(arp, &key));
  rte_pktmbuf_free(arp);
  rte_mbuf* bad_ihl = packet(IPPROTO_TCP, ip(192, 0, 2, 2), ip(203, 0, 113, 200), be16(1), be16(2));
  l3_of(bad_ihl)[0] = 0x4f;  // IHL 60 bytes, beyond the frame
  EXPECT_FALSE(flow_key(bad_ihl, &key));
  rte_pktmbuf_free(bad_ihl);
}

// A TCP segment with `flags` and these option bytes (a multiple of 4).
rte_mbuf* tcp_with_options(const std::vector<uint8_t>& options, uint8_t flags = 0x02) {
  rte_mbuf* m = packet(IPPROTO_TCP, ip(192, 0, 2, 2), ip(203, 0, 113, 200), be16(40000), be16(80), options.size());
  uint8_t* tcp = l3_of(m) + 20;
  tcp[12] = static_cast<uint8_t>((20 + options.size()) / 4 << 4);
  tcp[13] = flags;
  std::memcpy(tcp + 20, options.data(), options.size());
  finish_checksums(l3_of(m));
  return m;
}

TEST(ClampMss, LowersALargerMssOfASynOrSynAckAndKeepsTheChecksum) {
  // At an even offset, and after one NOP at an odd one (its bytes then
  // straddle two checksum words).
  const std::vector<std::pair<std::vector<uint8_t>, size_t>> layouts = {
      {{2, 4, 0x05, 0xb4}, 0}, {{1, 2, 4, 0x05, 0xb4, 1, 1, 0}, 1}, {{1, 1, 4, 2, 2, 4, 0x23, 0x28}, 4}};
  for (const auto& [options, at] : layouts) {
    for (uint8_t flags : {0x02, 0x12}) {
      rte_mbuf* m = tcp_with_options(options, flags);
      ASSERT_TRUE(nat::clamp_tcp_mss(m, 1410));
      const uint8_t* tcp = l3_of(m) + 20;
      EXPECT_EQ(get16(tcp + 20 + at + 2), 1410) << "option at offset " << at;
      expect_checksums_valid(l3_of(m));
      rte_pktmbuf_free(m);
    }
  }
}

TEST(ClampMss, LeavesWhatItMustNotTouch) {
  struct Case {
    const char* what;
    std::vector<uint8_t> options;
    uint8_t flags;
  };
  const std::vector<Case> cases = {
      {"an MSS already small enough", {2, 4, 0x05, 0x82}, 0x02},
      {"a segment without SYN", {2, 4, 0x05, 0xb4}, 0x10},
      {"a SYN without MSS", {1, 3, 3, 7}, 0x02},
      {"an MSS after the end of options", {0, 2, 4, 0x05, 0xb4, 0, 0, 0}, 0x02},
      {"an option of length 0 before it", {3, 0, 2, 4, 0x05, 0xb4, 0, 0}, 0x02},
      {"an MSS option running past the header", {1, 1, 2, 4}, 0x02},
      {"an MSS option of the wrong length", {2, 3, 0x05, 0xb4}, 0x02},
  };
  for (const Case& c : cases) {
    rte_mbuf* m = tcp_with_options(c.options, c.flags);
    const std::vector<uint8_t> before(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_mtod(m, uint8_t*) + m->data_len);
    EXPECT_FALSE(nat::clamp_tcp_mss(m, 1410)) << c.what;
    EXPECT_EQ(std::vector<uint8_t>(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_mtod(m, uint8_t*) + m->data_len), before)
        << c.what;
    rte_pktmbuf_free(m);
  }
  // A header longer than the frame: the options are not read past it.
  rte_mbuf* m = tcp_with_options({2, 4, 0x05, 0xb4});
  l3_of(m)[20 + 12] = 0xf0;
  EXPECT_FALSE(nat::clamp_tcp_mss(m, 1410));
  rte_pktmbuf_free(m);
  // A header longer than the datagram (the MSS in the frame's padding).
  m = tcp_with_options({2, 4, 0x05, 0xb4});
  put16(l3_of(m) + 2, 20 + 22);
  EXPECT_FALSE(nat::clamp_tcp_mss(m, 1410));
  rte_pktmbuf_free(m);
  // Not TCP; not IPv4 (the same bytes under another EtherType).
  m = packet(IPPROTO_UDP, ip(192, 0, 2, 2), ip(203, 0, 113, 200), be16(1), be16(2));
  EXPECT_FALSE(nat::clamp_tcp_mss(m, 1));
  rte_pktmbuf_free(m);
  m = tcp_with_options({2, 4, 0x05, 0xb4});
  put16(rte_pktmbuf_mtod(m, uint8_t*) + 12, 0x86dd);
  EXPECT_FALSE(nat::clamp_tcp_mss(m, 1410));
  rte_pktmbuf_free(m);
}

TEST(ClampMss, APartialChecksumLeftToTheNicIsLeftAlone) {
  rte_mbuf* m = tcp_with_options({2, 4, 0x05, 0xb4});
  m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
  uint8_t* tcp = l3_of(m) + 20;
  put16(tcp + 16, 0x1234);  // stands for the pseudo-header sum the guest left
  ASSERT_TRUE(nat::clamp_tcp_mss(m, 1410));
  EXPECT_EQ(get16(tcp + 22), 1410);
  EXPECT_EQ(get16(tcp + 16), 0x1234) << "the options are not in the pseudo-header";
  rte_pktmbuf_free(m);
}

class Snat : public ::testing::Test {
 protected:
  nat::SnatConfig config(uint32_t sessions, uint16_t port_min = 20000, uint16_t port_max = 59999) {
    nat::SnatConfig c;
    c.address = ip(10, 0, 0, 100);
    c.max_sessions = sessions;
    c.port_min = port_min;
    c.port_max = port_max;
    return c;
  }
  nat::FlowKey flow(uint8_t proto, uint16_t inside_port, uint32_t remote = 0, uint16_t remote_port = 80) {
    nat::FlowKey k{};
    k.protocol = proto;
    k.src_ip = ip(192, 0, 2, 3);
    k.dst_ip = remote ? remote : ip(203, 0, 113, 200);
    k.src_port = be16(inside_port);
    k.dst_port = proto == IPPROTO_ICMP ? be16(inside_port) : be16(remote_port);
    return k;
  }
  // A reply from the remote endpoint of `flow()` (203.0.113.200:80) to the
  // session's outside port.
  nat::FlowKey reply_to(const nat::SnatSession& session, uint8_t proto = IPPROTO_TCP) {
    nat::FlowKey reply{};
    reply.protocol = proto;
    reply.src_ip = ip(203, 0, 113, 200);
    reply.src_port = be16(80);
    reply.dst_ip = ip(10, 0, 0, 100);
    reply.dst_port = session.outside_port;
    return reply;
  }
  const uint8_t mac_[6] = {2, 0, 0, 0, 0, 9};
};

TEST_F(Snat, CreatesOnceAndFindsRepliesBySession) {
  nat::SnatTable table(config(64), 1, test_rcu());
  const nat::SnatSession* s1 = nullptr;
  ASSERT_EQ(table.outbound(flow(IPPROTO_TCP, 40000), 3, mac_, 0, 10, true, &s1), nat::SnatResult::kOk);
  const nat::SnatSession* again = nullptr;
  ASSERT_EQ(table.outbound(flow(IPPROTO_TCP, 40000), 3, mac_, 0, 11, true, &again), nat::SnatResult::kOk);
  EXPECT_EQ(s1, again);
  EXPECT_EQ(table.active(), 1u);
  const uint16_t port = rte_be_to_cpu_16(s1->outside_port);
  EXPECT_GE(port, 20000);
  EXPECT_LE(port, 59999);
  EXPECT_EQ(s1->origin_network, 3);
  // The reply: from the remote endpoint to our address and outside port.
  nat::FlowKey reply = reply_to(*s1);
  EXPECT_EQ(table.inbound(reply, 0, 12), s1);
  reply.src_port = be16(81);  // another remote port: no session
  EXPECT_EQ(table.inbound(reply, 0, 12), nullptr);
  // ICMP errors never create sessions.
  const nat::SnatSession* none = nullptr;
  EXPECT_EQ(table.outbound(flow(IPPROTO_UDP, 1234), 3, mac_, 0, 12, false, &none), nat::SnatResult::kNoSession);
}

TEST_F(Snat, TableIsBoundedAndPortsRunOut) {
  nat::SnatTable small(config(8), 1, test_rcu());
  const nat::SnatSession* s = nullptr;
  for (uint16_t p = 0; p < 8; ++p)
    ASSERT_EQ(small.outbound(flow(IPPROTO_UDP, static_cast<uint16_t>(1000 + p)), 0, mac_, 0, 1, true, &s),
              nat::SnatResult::kOk);
  EXPECT_EQ(small.outbound(flow(IPPROTO_UDP, 2000), 0, mac_, 0, 1, true, &s), nat::SnatResult::kTableFull);
  // Two outside ports toward one remote endpoint: the third flow to it finds none.
  nat::SnatTable narrow(config(64, 30000, 30001), 1, test_rcu());
  EXPECT_EQ(narrow.outbound(flow(IPPROTO_TCP, 1), 0, mac_, 0, 1, true, &s), nat::SnatResult::kOk);
  EXPECT_EQ(narrow.outbound(flow(IPPROTO_TCP, 2), 0, mac_, 0, 1, true, &s), nat::SnatResult::kOk);
  EXPECT_EQ(narrow.outbound(flow(IPPROTO_TCP, 3), 0, mac_, 0, 1, true, &s), nat::SnatResult::kPortsExhausted);
  // ...but the same ports serve another remote endpoint.
  EXPECT_EQ(narrow.outbound(flow(IPPROTO_TCP, 3, ip(203, 0, 113, 201)), 0, mac_, 0, 1, true, &s), nat::SnatResult::kOk);
}

TEST_F(Snat, SessionsExpirePerProtocolAndFreeTheirPorts) {
  // Two workers, one outside port each: worker 0 hands out 30000.
  nat::SnatConfig c = config(16, 30000, 30001);
  c.udp_timeout_s = 30;
  c.icmp_timeout_s = 10;
  c.tcp_transitory_timeout_s = 20;
  c.tcp_established_timeout_s = 1000;
  nat::SnatTable table(c, 2, test_rcu());
  const nat::SnatSession* s = nullptr;
  ASSERT_EQ(table.outbound(flow(IPPROTO_UDP, 1), 0, mac_, 0, 0, true, &s), nat::SnatResult::kOk);
  EXPECT_EQ(rte_be_to_cpu_16(s->outside_port), 30000);
  ASSERT_EQ(table.outbound(flow(IPPROTO_ICMP, 7), 0, mac_, 0, 0, true, &s), nat::SnatResult::kOk);
  ASSERT_EQ(table.outbound(flow(IPPROTO_TCP, 2), 0, mac_, 0, 0, true, &s), nat::SnatResult::kOk);
  // The TCP session sees its reply on worker 1: established.
  nat::FlowKey reply = reply_to(*s);
  ASSERT_NE(table.inbound(reply, 1, 5), nullptr);
  // The control thread finds idle sessions; their owner (worker 0) ends them.
  const auto expire = [&](uint32_t now) {
    const size_t queued = table.expire(now);
    table.service(0, now);
    return queued;
  };
  EXPECT_EQ(expire(9), 0u);
  EXPECT_EQ(expire(10), 1u);   // ICMP
  EXPECT_EQ(expire(30), 1u);   // UDP
  EXPECT_EQ(expire(900), 0u);  // established TCP lives on
  EXPECT_EQ(table.active(), 1u);
  EXPECT_EQ(table.expired(), 2u);
  // The only outside port of worker 0 is free again for a new UDP flow to
  // the same endpoint, once the grace period of the ended one is over
  // (the next service; no reader is registered here).
  table.service(0, 40);
  EXPECT_EQ(table.outbound(flow(IPPROTO_UDP, 9), 0, mac_, 0, 40, true, &s), nat::SnatResult::kOk);
  EXPECT_EQ(rte_be_to_cpu_16(s->outside_port), 30000);
}

TEST_F(Snat, EachWorkerOwnsAShareOfThePortsAndOnlyItEndsItsSessions) {
  nat::SnatTable table(config(64, 30000, 30009), 2, test_rcu());
  const nat::SnatSession* mine = nullptr;
  ASSERT_EQ(table.outbound(flow(IPPROTO_UDP, 1), 0, mac_, 1, 0, true, &mine), nat::SnatResult::kOk);
  EXPECT_GE(rte_be_to_cpu_16(mine->outside_port), 30005) << "worker 1 hands out the upper half";
  // The same flow through worker 0 (its port moved): the same session, no second one.
  const nat::SnatSession* again = nullptr;
  ASSERT_EQ(table.outbound(flow(IPPROTO_UDP, 1), 0, mac_, 0, 0, true, &again), nat::SnatResult::kOk);
  EXPECT_EQ(again, mine);
  EXPECT_EQ(table.active(), 1u);
  // Replies resolve on any worker.
  EXPECT_EQ(table.inbound(reply_to(*mine, IPPROTO_UDP), 0, 1), mine);
  // Expiry goes to the owner: worker 0's upkeep leaves it alone.
  EXPECT_EQ(table.expire(1000), 1u);
  table.service(0, 1000);
  EXPECT_EQ(table.active(), 1u);
  table.service(1, 1000);
  EXPECT_EQ(table.active(), 0u);
  EXPECT_EQ(table.inbound(reply_to(*mine, IPPROTO_UDP), 0, 1000), nullptr);
  // Fewer ports than workers: refused with the reason.
  try {
    nat::SnatTable narrow(config(64, 30000, 30000), 2, test_rcu());
    FAIL() << "a one-port range was accepted for two workers";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "SNAT: the port range 30000-30000 has fewer ports than the switch has workers (2): each worker hands "
                 "out its own share");
  }
}

TEST_F(Snat, ASessionUsedAfterTheExpiryScanIsNotEnded) {
  nat::SnatConfig c = config(64);
  c.udp_timeout_s = 30;
  nat::SnatTable table(c, 1, test_rcu());
  const nat::SnatSession* s = nullptr;
  ASSERT_EQ(table.outbound(flow(IPPROTO_UDP, 1), 0, mac_, 0, 0, true, &s), nat::SnatResult::kOk);
  EXPECT_EQ(table.expire(30), 1u);
  // A packet between the control thread's scan and the owner's upkeep.
  ASSERT_EQ(table.outbound(flow(IPPROTO_UDP, 1), 0, mac_, 0, 30, true, &s), nat::SnatResult::kOk);
  table.service(0, 30);
  EXPECT_EQ(table.active(), 1u);
  EXPECT_EQ(table.expired(), 0u);
}

TEST_F(Snat, SessionsAreKeyedByNetworkSoTenantsWithTheSameAddressesNeverShareOne) {
  nat::SnatTable table(config(64), 1, test_rcu());
  const nat::SnatSession* blue = nullptr;
  const nat::SnatSession* red = nullptr;
  // The same inside flow from two networks: two sessions, two outside ports.
  ASSERT_EQ(table.outbound(flow(IPPROTO_UDP, 5000), 1, mac_, 0, 1, true, &blue), nat::SnatResult::kOk);
  ASSERT_EQ(table.outbound(flow(IPPROTO_UDP, 5000), 2, mac_, 0, 1, true, &red), nat::SnatResult::kOk);
  ASSERT_NE(blue, red);
  EXPECT_NE(blue->outside_port, red->outside_port);
  EXPECT_EQ(blue->origin_network, 1);
  EXPECT_EQ(red->origin_network, 2);
  // An ICMP error (no creation) from network 2 finds only network 2's.
  const nat::SnatSession* found = nullptr;
  ASSERT_EQ(table.outbound(flow(IPPROTO_UDP, 5000), 2, mac_, 0, 1, false, &found), nat::SnatResult::kOk);
  EXPECT_EQ(found, red);
  EXPECT_EQ(table.outbound(flow(IPPROTO_UDP, 5000), 3, mac_, 0, 1, false, &found), nat::SnatResult::kNoSession);
}

TEST_F(Snat, QuotasPerNetworkAndPerSourceLeaveRoomForOthers) {
  nat::SnatConfig c = config(64);
  c.max_per_network = 6;
  c.max_per_source = 4;
  nat::SnatTable table(c, 1, test_rcu());
  const nat::SnatSession* s = nullptr;
  for (uint16_t p = 0; p < 4; ++p)
    ASSERT_EQ(table.outbound(flow(IPPROTO_UDP, static_cast<uint16_t>(100 + p)), 1, mac_, 0, 1, true, &s),
              nat::SnatResult::kOk);
  // The fifth from the same guest: over its quota.
  EXPECT_EQ(table.outbound(flow(IPPROTO_UDP, 200), 1, mac_, 0, 1, true, &s), nat::SnatResult::kSessionLimit);
  // Another guest of the network still gets sessions, up to the network's quota.
  nat::FlowKey other = flow(IPPROTO_UDP, 300);
  other.src_ip = ip(192, 0, 2, 4);
  EXPECT_EQ(table.outbound(other, 1, mac_, 0, 1, true, &s), nat::SnatResult::kOk);
  other.src_port = be16(301);
  EXPECT_EQ(table.outbound(other, 1, mac_, 0, 1, true, &s), nat::SnatResult::kOk);
  other.src_port = be16(302);
  EXPECT_EQ(table.outbound(other, 1, mac_, 0, 1, true, &s), nat::SnatResult::kSessionLimit);
  EXPECT_EQ(table.network_sessions(1), 6u);
  // Another network is untouched, even with the same inside address.
  EXPECT_EQ(table.outbound(flow(IPPROTO_UDP, 200), 2, mac_, 0, 1, true, &s), nat::SnatResult::kOk);
  // Expiry gives the quota back.
  EXPECT_EQ(table.expire(1000), 7u);
  table.service(0, 1000);
  EXPECT_EQ(table.network_sessions(1), 0u);
  EXPECT_EQ(table.outbound(flow(IPPROTO_UDP, 200), 1, mac_, 0, 1000, true, &s), nat::SnatResult::kOk);
}

TEST_F(Snat, ForgettingANetworkEndsItsSessionsOnly) {
  nat::SnatTable table(config(64), 1, test_rcu());
  const nat::SnatSession* s = nullptr;
  ASSERT_EQ(table.outbound(flow(IPPROTO_TCP, 1), 4, mac_, 0, 1, true, &s), nat::SnatResult::kOk);
  nat::FlowKey reply = reply_to(*s);
  ASSERT_EQ(table.outbound(flow(IPPROTO_TCP, 2), 5, mac_, 0, 1, true, &s), nat::SnatResult::kOk);
  // forget_network waits for the owner (worker 0) to end the sessions.
  std::atomic<bool> stop{false};
  std::thread owner([&] {
    while (!stop.load()) table.service(0, 2);
  });
  EXPECT_EQ(table.forget_network(4), 1u);
  stop = true;
  owner.join();
  EXPECT_EQ(table.inbound(reply, 0, 2), nullptr) << "a reply to a deleted network's session goes nowhere";
  EXPECT_EQ(table.active(), 1u);
  EXPECT_EQ(table.network_sessions(4), 0u);
}

}  // namespace
}  // namespace inception::test
