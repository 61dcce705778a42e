// Fuzz target: ARP parsing and answering (parse_arp, arp_reply_in_place,
// make_arp_request) with a property oracle, and the router's ARP handling
// (router_arp) on the same frame.
//
// Input: port:u8  local_ip:u32  requested_ip:u32  rest record (fuzz_input.h)
// Oracle:
//  * parse_arp accepts exactly the Ethernet frames whose first segment
//    holds an Ethernet + IPv4-over-Ethernet ARP header, and returns their
//    fields as they are on the wire;
//  * arp_reply_in_place answers exactly the requests for the local address,
//    turns them into the reply RFC 826 describes and touches no other byte;
//    any other frame is left as it was;
//  * make_arp_request builds a request that parse_arp reads back.
#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstring>
#include <vector>

#include "dataplane/arp.h"
#include "dataplane/router/router.h"
#include "packet_harness.h"

using namespace inception;
using namespace inception::fuzz;

namespace {

constexpr const char* kName = "arp";
constexpr std::array<uint8_t, 6> kLocalMac = {0x02, 0x49, 0x4e, 0, 0, 0x0c};
constexpr PortIndex kRoutedPorts[] = {7, 8, 9, 10, 11};

uint16_t get16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t get32(const uint8_t* p) {
  return uint32_t{get16(p)} << 16 | get16(p + 2);
}

std::vector<uint8_t> bytes_of(const rte_mbuf* m) {
  std::vector<uint8_t> out(m->pkt_len);
  const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, out.data());
  if (p != out.data() && m->pkt_len != 0) std::memcpy(out.data(), p, m->pkt_len);
  return out;
}

void check_parse(const rte_mbuf* m) {
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  const bool is_arp = m->data_len >= 42 && get16(p + 12) == RTE_ETHER_TYPE_ARP && get16(p + 14) == RTE_ARP_HRD_ETHER &&
                      get16(p + 16) == RTE_ETHER_TYPE_IPV4 && p[18] == 6 && p[19] == 4;
  const auto arp = parse_arp(m);
  if (arp.has_value() != is_arp)
    fail("%s: parse_arp %s a frame it should %s", kName, arp ? "accepted" : "refused", is_arp ? "accept" : "refuse");
  if (!arp) return;
  if (arp->operation != get16(p + 20) || std::memcmp(arp->sender_mac.data(), p + 22, 6) != 0 ||
      arp->sender_ip != get32(p + 28) || arp->target_ip != get32(p + 38))
    fail("%s: parse_arp returned fields that are not the frame's", kName);
}

void check_reply(rte_mbuf* m, uint32_t local_ip) {
  const auto before = parse_arp(m);
  const std::vector<uint8_t> old = bytes_of(m);
  const bool expected = before && before->operation == RTE_ARP_OP_REQUEST && before->target_ip == local_ip;
  const bool answered = arp_reply_in_place(m, kLocalMac, local_ip);
  const std::vector<uint8_t> now = bytes_of(m);
  if (answered != expected) fail("%s: arp_reply_in_place returned %d, expected %d", kName, answered, expected);
  if (now.size() != old.size()) fail("%s: arp_reply_in_place changed the frame's length", kName);
  if (!answered) {
    if (now != old) fail("%s: arp_reply_in_place changed a frame it did not answer", kName);
    return;
  }
  const auto after = parse_arp(m);
  if (!after || after->operation != RTE_ARP_OP_REPLY || after->sender_mac != kLocalMac ||
      after->sender_ip != local_ip || after->target_ip != before->sender_ip)
    fail("%s: the reply is not the answer to the request", kName);
  if (std::memcmp(now.data(), before->sender_mac.data(), 6) != 0 || std::memcmp(now.data() + 6, kLocalMac.data(), 6) ||
      std::memcmp(now.data() + 32, before->sender_mac.data(), 6) != 0)
    fail("%s: the reply is not addressed to the requester", kName);
  // Bytes outside the Ethernet addresses and the ARP fields a reply changes.
  for (size_t i = 12; i < now.size(); ++i) {
    const bool rewritten = (i >= 20 && i < 42);
    if (!rewritten && now[i] != old[i]) fail("%s: arp_reply_in_place changed byte %zu", kName, i);
  }
}

void check_request(uint32_t sender_ip, uint32_t target_ip) {
  rte_mbuf* m = make_arp_request(pool(), kLocalMac, sender_ip, target_ip);
  if (m == nullptr) fail("%s: make_arp_request found no mbuf", kName);
  const auto arp = parse_arp(m);
  if (!arp || arp->operation != RTE_ARP_OP_REQUEST || arp->sender_mac != kLocalMac || arp->sender_ip != sender_ip ||
      arp->target_ip != target_ip)
    fail("%s: make_arp_request built a request parse_arp does not read back", kName);
  rte_pktmbuf_free(m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  Input in(data, size);
  const PortIndex port = kRoutedPorts[in.u8() % std::size(kRoutedPorts)];
  const uint32_t local_ip = in.u32();
  const uint32_t requested_ip = in.u32();
  const FrameRecord record = read_rest_record(in);
  w.begin(0);
  if (rte_mbuf* m = make_frame(record)) {
    check_parse(m);
    // Once for the given address, once for the one the frame asks for.
    check_reply(m, local_ip);
    const auto arp = parse_arp(m);
    if (arp) check_reply(m, arp->target_ip);
    rte_pktmbuf_free(m);
  }
  if (rte_mbuf* m = make_frame(record)) {
    if (!router_arp(w.ctx(), w.snapshot(), w.snapshot().ports[port].network, port, m)) rte_pktmbuf_free(m);
  }
  check_request(local_ip, requested_ip);
  w.end(kName);
  return 0;
}
