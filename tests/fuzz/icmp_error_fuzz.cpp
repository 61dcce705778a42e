// Fuzz target: ICMP "fragmentation needed" for frames too big for the
// overlay (make_fragmentation_needed), with a property oracle.
//
// Input: mtu:u16  rest record (fuzz_input.h)
// Oracle: an error is built exactly for the frames RFC 792/1122/1191 allow
// one for (IPv4 with DF, not a fragment, a whole header and 8 bytes of
// payload in the first segment, a unicast source, not itself an ICMP
// error), and it is well formed: addressed back to the sender, header and
// ICMP checksums that verify, the next-hop MTU, and the original header and
// first 8 payload bytes quoted unchanged.
#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstring>

#include "dataplane/vxlan/icmp_error.h"
#include "packet_harness.h"

using namespace inception;
using namespace inception::fuzz;

namespace {

constexpr const char* kName = "icmp_error";

bool error_expected(const rte_mbuf* m) {
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  const size_t len = m->data_len;
  if (len < 34 || get16(p + 12) != RTE_ETHER_TYPE_IPV4) return false;
  const uint8_t* ip = p + 14;
  const size_t ihl = size_t{ip[0] & 0xfu} * 4;
  const uint16_t fragment = get16(ip + 6);
  if (!(fragment & 0x4000) || (fragment & 0x1fff) != 0) return false;
  if (ihl < 20 || len < 14 + ihl + 8) return false;
  const uint32_t source = uint32_t{ip[12]} << 24 | uint32_t{ip[13]} << 16 | uint32_t{ip[14]} << 8 | ip[15];
  if (source == 0 || source == 0xffffffff || (source >> 28) == 0xe) return false;
  if (ip[9] == IPPROTO_ICMP) {
    const uint8_t type = ip[ihl];
    if (type == 3 || type == 4 || type == 5 || type == 11 || type == 12) return false;
  }
  return true;
}

void check_error(const rte_mbuf* original, const rte_mbuf* error, uint16_t mtu) {
  check_mbuf(error, kName);
  const auto* o = rte_pktmbuf_mtod(original, const uint8_t*);
  const size_t ihl = size_t{o[14] & 0xfu} * 4;
  if (error->nb_segs != 1 || error->data_len != 14 + 20 + 8 + ihl + 8)
    fail("%s: the error is %u bytes in %u segments", kName, error->pkt_len, error->nb_segs);
  const auto* e = rte_pktmbuf_mtod(error, const uint8_t*);
  if (std::memcmp(e, o + 6, 6) != 0 || std::memcmp(e + 6, o, 6) != 0 || get16(e + 12) != RTE_ETHER_TYPE_IPV4)
    fail("%s: the error's Ethernet header does not answer the frame", kName);
  const uint8_t* ip = e + 14;
  if (ip[0] != 0x45 || get16(ip + 2) != error->data_len - 14 || ip[9] != IPPROTO_ICMP || checksum(ip, 20) != 0)
    fail("%s: the error's IPv4 header is wrong or its checksum does not verify", kName);
  if (std::memcmp(ip + 12, o + 14 + 16, 4) != 0 || std::memcmp(ip + 16, o + 14 + 12, 4) != 0)
    fail("%s: the error does not go back to the sender", kName);
  const uint8_t* icmp = ip + 20;
  const size_t icmp_length = 8 + ihl + 8;
  if (icmp[0] != 3 || icmp[1] != 4 || get16(icmp + 4) != 0 || get16(icmp + 6) != mtu)
    fail("%s: not a fragmentation-needed error with the MTU", kName);
  if (checksum(icmp, icmp_length) != 0) fail("%s: the ICMP checksum does not verify", kName);
  if (std::memcmp(icmp + 8, o + 14, ihl + 8) != 0) fail("%s: the quoted header is not the original's", kName);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  init_eal();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const LeakCheck baseline;
  Input in(data, size);
  const uint16_t mtu = in.u16();
  rte_mbuf* m = make_frame(read_rest_record(in));
  if (m == nullptr) return 0;
  rte_mbuf* error = make_fragmentation_needed(pool(), m, mtu);
  if ((error != nullptr) != error_expected(m))
    fail("%s: an error was %s for a frame that %s one", kName, error ? "built" : "not built",
         error ? "must not get" : "must get");
  if (error != nullptr) check_error(m, error, mtu);
  rte_pktmbuf_free(error);
  rte_pktmbuf_free(m);
  baseline.verify(kName);
  return 0;
}
