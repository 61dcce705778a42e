#include "packet_harness.h"

#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dataplane/arp.h"
#include "dataplane/l2/bridge.h"
#include "dataplane/vxlan/vxlan.h"
#include "dataplane/worker/punt.h"
#include "dataplane/worker/worker.h"

namespace inception::fuzz {

void fail(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::abort();
}

namespace {

uint16_t null_port = 0;

// A QSBR variable no reader registers with: the stages run on this thread
// between the table updates, so every grace period ends at once.
rte_rcu_qsbr* rcu() {
  static rte_rcu_qsbr* v = [] {
    auto* q = static_cast<rte_rcu_qsbr*>(rte_zmalloc(nullptr, rte_rcu_qsbr_get_memsize(1), RTE_CACHE_LINE_SIZE));
    if (q == nullptr || rte_rcu_qsbr_init(q, 1) != 0) fail("fuzz: cannot set up RCU");
    return q;
  }();
  return v;
}

void start_null_port() {
  if (rte_eth_dev_get_port_by_name("net_null0", &null_port) != 0) fail("fuzz: no net_null0 ethdev");
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(null_port, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(null_port, 0, 64, SOCKET_ID_ANY, nullptr, pool()) != 0 ||
      rte_eth_tx_queue_setup(null_port, 0, 64, SOCKET_ID_ANY, nullptr) != 0 || rte_eth_dev_start(null_port) != 0)
    fail("fuzz: cannot start net_null0");
}

// One external buffer: the frame bytes (after `headroom` bytes) in a
// malloc'd block of exactly that size, and the shared info DPDK releases
// it through.
struct ExternalBuffer {
  rte_mbuf_ext_shared_info shinfo;
  uint8_t* data;
};

std::atomic<long> buffers_outstanding{0};

void release_buffer(void* /*addr*/, void* opaque) {
  auto* buffer = static_cast<ExternalBuffer*>(opaque);
  std::free(buffer->data);
  delete buffer;
  buffers_outstanding.fetch_sub(1, std::memory_order_relaxed);
}

rte_mbuf* make_segment(std::span<const uint8_t> bytes, uint8_t flags, bool first) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool());
  if (m == nullptr) return nullptr;
  // Only a frame's first segment has headroom (as a PMD or rte_vhost fills them).
  const uint16_t headroom = (flags & 0x20) || !first ? 0 : RTE_PKTMBUF_HEADROOM;
  if (flags & 0x10) {
    m->data_off = headroom;
    const size_t take = std::min<size_t>(bytes.size(), rte_pktmbuf_tailroom(m));
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(take)), bytes.data(), take);
    return m;
  }
  const size_t take = std::min<size_t>(bytes.size(), UINT16_MAX - headroom);
  auto* buffer = new ExternalBuffer{};
  // malloc(0) may return nullptr; one spare byte keeps the block unique
  // without making it readable past the frame (ASan knows its size).
  buffer->data = static_cast<uint8_t*>(std::malloc(headroom + take == 0 ? 1 : headroom + take));
  if (take != 0) std::memcpy(buffer->data + headroom, bytes.data(), take);
  buffer->shinfo.free_cb = release_buffer;
  buffer->shinfo.fcb_opaque = buffer;
  rte_mbuf_ext_refcnt_set(&buffer->shinfo, 1);
  buffers_outstanding.fetch_add(1, std::memory_order_relaxed);
  rte_pktmbuf_attach_extbuf(m, buffer->data, RTE_BAD_IOVA, static_cast<uint16_t>(headroom + take), &buffer->shinfo);
  m->data_off = headroom;
  m->data_len = static_cast<uint16_t>(take);
  m->pkt_len = static_cast<uint32_t>(take);
  return m;
}

}  // namespace

void init_eal() {
  static bool done = false;
  if (done) return;
  done = true;
  // rte_eal_init pins this thread to lcore 0's CPU; give it its affinity
  // back so that several fuzzers can share the machine.
  cpu_set_t affinity;
  CPU_ZERO(&affinity);
  sched_getaffinity(0, sizeof(affinity), &affinity);
  // In memory, no PCI, no shared files, no telemetry socket: nothing
  // outside this process.
  std::string args[] = {"fuzz",    "-l",       "0",           "--no-huge",      "-m",
                        "512",     "--no-pci", "--no-shconf", "--no-telemetry", "--log-level",
                        "*:error", "--vdev",   "net_null0",   "--file-prefix",  "fuzz-" + std::to_string(getpid())};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) fail("fuzz: EAL initialisation failed");
  sched_setaffinity(0, sizeof(affinity), &affinity);
  // With --no-shconf nothing is written to the runtime directory the EAL
  // made: remove it now rather than leave it behind.
  rmdir(rte_eal_get_runtime_dir());
  start_null_port();
}

// Fewer mbufs than the pool's ring has room for (8191): a ring that is
// full silently refuses the put of an mbuf freed twice, and the count would
// not show it.
constexpr unsigned kPoolSize = 6000;

rte_mempool* pool() {
  static rte_mempool* p = [] {
    rte_mempool* created =
        rte_pktmbuf_pool_create("fuzz_pool", kPoolSize, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (created == nullptr) fail("fuzz: cannot create the mempool");
    return created;
  }();
  return p;
}

rte_mbuf* make_frame(const FrameRecord& record) {
  const size_t length = record.bytes.size();
  size_t cuts[FrameRecord::kMaxCuts + 2] = {0};
  unsigned n = 1;
  for (unsigned i = 0; i < record.n_cuts; ++i) cuts[n++] = std::min<size_t>(record.cuts[i], length);
  std::sort(cuts + 1, cuts + n);
  cuts[n++] = length;
  rte_mbuf* head = nullptr;
  for (unsigned s = 0; s + 1 < n; ++s) {
    rte_mbuf* segment = make_segment(record.bytes.subspan(cuts[s], cuts[s + 1] - cuts[s]), record.flags, s == 0);
    if (segment == nullptr) {
      rte_pktmbuf_free(head);
      return nullptr;
    }
    if (head == nullptr) {
      head = segment;
    } else if (rte_pktmbuf_chain(head, segment) != 0) {
      rte_pktmbuf_free(segment);
      rte_pktmbuf_free(head);
      return nullptr;
    }
  }
  static constexpr uint64_t kChecksum[4] = {0, RTE_MBUF_F_RX_IP_CKSUM_GOOD, RTE_MBUF_F_RX_IP_CKSUM_BAD,
                                            RTE_MBUF_F_RX_IP_CKSUM_NONE};
  head->ol_flags |= kChecksum[(record.flags >> 2) & 3];
  return head;
}

uint16_t read_burst(Input& in, rte_mbuf* (&pkts)[kBurstSize]) {
  const unsigned count = 1 + in.u8() % kBurstSize;
  uint16_t n = 0;
  for (unsigned i = 0; i < count; ++i)
    if (rte_mbuf* m = make_frame(read_frame_record(in))) pkts[n++] = m;
  return n;
}

long outstanding_buffers() noexcept {
  return buffers_outstanding.load(std::memory_order_relaxed);
}

void check_mbuf(const rte_mbuf* m, const char* where) {
  const char* reason = nullptr;
  if (rte_mbuf_check(m, 1, &reason) != 0) fail("%s: inconsistent mbuf queued for TX: %s", where, reason);
}

LeakCheck::LeakCheck() : available_(rte_mempool_avail_count(pool())), buffers_(outstanding_buffers()) {}

void LeakCheck::verify(const char* harness) const {
  const unsigned available = rte_mempool_avail_count(pool());
  if (available != available_)
    fail("%s: the mempool holds %u mbufs after the input, %u before: %s", harness, available, available_,
         available < available_ ? "a frame leaked" : "an mbuf was freed twice");
  if (outstanding_buffers() != buffers_)
    fail("%s: %ld frame buffers outstanding after the input, %ld before", harness, outstanding_buffers(), buffers_);
}

// ---- the world ----

namespace {

uint32_t be(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return rte_cpu_to_be_32(uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d);
}
uint32_t host(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d;
}
MacAddress mac(const char* text) {
  return *MacAddress::parse(text);
}
Ipv4Net net(uint32_t ip_be, uint8_t length) {
  return {ip_be, rte_cpu_to_be_32(length == 0 ? 0 : ~uint32_t{0} << (32 - length))};
}

constexpr std::array<uint8_t, 6> kUnderlayMac = {0x02, 0, 0, 0, 0, 0x0c};
constexpr std::array<uint8_t, 6> kNextHopMac = {0x02, 0, 0, 0, 0, 0x0b};
constexpr std::array<uint8_t, 6> kRouterMac = {0x02, 0x49, 0x4e, 0, 0, 0x0c};
constexpr uint32_t kNeighborLimit = 16;

struct PresetNeighbor {
  NetworkIndex network;
  uint32_t ip;  // host order
  const char* mac;
};
constexpr PresetNeighbor kPresetNeighbors[] = {
    {World::kPrivate, 0xc000020a, "52:54:00:00:01:0a"},  // 192.0.2.10, floating IP 203.0.113.10
    {World::kPrivate, 0xc0000207, "52:54:00:00:01:07"},  // 192.0.2.7, port 7
    {World::kPublic, 0xc63364c9, "02:49:4e:00:00:0b"},   // 198.51.100.201, the gateway rVM
    {World::kPublic, 0xcb00710b, "02:49:4e:00:00:0b"},   // 203.0.113.11, hosted by the gateway rVM
};

}  // namespace

World::World() {
  init_eal();
  counters_ = static_cast<WorkerCounters*>(rte_zmalloc(nullptr, sizeof(WorkerCounters), RTE_CACHE_LINE_SIZE));
  learn_ring_ = rte_ring_create_elem("fuzz_learn", sizeof(LearnRequest), 256, SOCKET_ID_ANY, RING_F_SC_DEQ);
  underlay_punts_ = rte_ring_create_elem("fuzz_punt_ul", sizeof(PuntedFrame), 256, SOCKET_ID_ANY, RING_F_SC_DEQ);
  overlay_punts_ = rte_ring_create_elem("fuzz_punt_ol", sizeof(PuntedFrame), 256, SOCKET_ID_ANY, RING_F_SC_DEQ);
  if (counters_ == nullptr || learn_ring_ == nullptr || underlay_punts_ == nullptr || overlay_punts_ == nullptr)
    fail("fuzz: cannot allocate the worker's rings and counters");
  const char* names[kNetworks] = {"blue", "private", "public", "red"};
  for (NetworkIndex n = 0; n < kNetworks; ++n) fdbs_[n] = std::make_unique<Fdb>(names[n], 64, 1, rcu());
  neighbors_ = std::make_unique<OverlayNeighbors>(256, rcu());
  nat::SnatConfig snat;
  snat.address = be(10, 0, 0, 100);
  snat.port_min = 20000;
  snat.port_max = 20063;
  snat.max_sessions = 128;
  snat.max_per_network = 64;
  snat.max_per_source = 16;
  snat_ = std::make_unique<nat::SnatTable>(snat, 1, rcu());

  snapshot_ = std::make_unique<Snapshot>();
  Snapshot& s = *snapshot_;
  auto port = [&](PortIndex p, NetworkIndex n, PortKind kind) {
    PortView& v = s.ports[p];
    v.present = true;
    v.kind = kind;
    v.role = PortRole::kSwitch;
    v.ethdev_id = null_port;
    v.network = n;
    v.is_peer = kind == PortKind::kVxlanPeer;
    if (n != kInvalidNetwork) switch_ports_.push_back(p);
  };
  port(kUnderlay, kInvalidNetwork, PortKind::kEthdev);
  s.ports[kUnderlay].role = PortRole::kUnderlay;
  port(kHost, kInvalidNetwork, PortKind::kEthdev);
  s.ports[kHost].role = PortRole::kHost;
  for (PortIndex p : {2, 3, 4}) port(p, kBlue, PortKind::kEthdev);
  for (PortIndex p : {5, 6}) port(p, kBlue, PortKind::kVxlanPeer);
  for (PortIndex p : {7, 8}) port(p, kPrivate, PortKind::kEthdev);
  port(9, kPublic, PortKind::kEthdev);
  for (PortIndex p : {10, 11}) port(p, kPublic, PortKind::kVxlanPeer);
  for (PortIndex p : {12, 13}) port(p, kRed, PortKind::kEthdev);

  auto secure = [&](PortIndex p, std::initializer_list<const char*> macs, std::initializer_list<Ipv4Net> prefixes) {
    PortSecurityView& security = s.ports[p].security;
    security.enabled = true;
    for (const char* m : macs) {
      security.mac_keys[security.n_macs++] = mac(m).key();
      fdbs_[s.ports[p].network]->add_static(mac(m), p);  // as Controller::add_port binds them
    }
    for (const Ipv4Net& prefix : prefixes) security.prefixes[security.n_prefixes++] = prefix;
  };
  secure(3, {"52:54:00:00:00:03", "52:54:00:00:00:33"}, {net(be(192, 0, 2, 3), 32), net(be(198, 51, 100, 16), 28)});
  secure(4, {"52:54:00:00:00:04"}, {});
  secure(7, {"52:54:00:00:01:07"}, {net(be(192, 0, 2, 7), 32)});
  fdbs_[kRed]->set_port_limit(13, 2);
  // Stations behind peers and local ports that frames may be addressed to.
  fdbs_[kBlue]->add_static(mac("02:00:00:00:05:01"), 5);
  fdbs_[kBlue]->add_static(mac("02:00:00:00:06:01"), 6);
  fdbs_[kPrivate]->add_static(mac("52:54:00:00:01:0a"), 8);
  fdbs_[kPublic]->add_static(mac("02:49:4e:00:00:0b"), 10);
  fdbs_[kPublic]->add_static(mac("02:49:4e:00:00:0d"), 11);

  auto network = [&](NetworkIndex n, uint32_t vni, std::vector<PortIndex> local, std::vector<PortIndex> peers) {
    NetworkView& v = s.networks[n];
    v.fdb = fdbs_[n].get();
    v.vni = vni;
    v.local_ports = std::move(local);
    v.peer_ports = std::move(peers);
  };
  network(kBlue, 1001, {2, 3, 4}, {5, 6});
  network(kPrivate, 1002, {7, 8}, {});
  network(kPublic, 1003, {9}, {10, 11});
  network(kRed, 1004, {12, 13}, {});
  s.networks[kPrivate].router = {true, be(192, 0, 2, 254), be(255, 255, 255, 0)};
  s.networks[kPublic].router = {true, be(198, 51, 100, 202), be(255, 255, 255, 0)};
  s.networks[kPrivate].l3 = s.networks[kPublic].l3 = true;

  UnderlayView& u = s.underlay;
  u.enabled = true;
  u.port = kUnderlay;
  u.host = kHost;
  u.local_ip = be(10, 0, 0, 12);
  u.vxlan_port = rte_cpu_to_be_16(4789);
  u.mac = kUnderlayMac;
  u.mtu = 1500;
  u.overlay_mtu = 1450;
  for (uint32_t hop : {host(10, 0, 0, 1), host(10, 0, 0, 11), host(10, 0, 0, 13)}) u.wanted_neighbors.insert(hop, 1);
  for (NetworkIndex n = 0; n < kNetworks; ++n) u.network_of_vni.insert(s.networks[n].vni, n);
  auto peer = [&](PortIndex p, uint32_t remote) {
    const NetworkView& n = s.networks[s.ports[p].network];
    u.peer_of.insert(UnderlayView::peer_key(n.vni, remote), p);
    s.ports[p].tunnel = make_vxlan_template(kUnderlayMac, kNextHopMac, host(10, 0, 0, 12), remote, 4789, n.vni);
    s.ports[p].resolved = true;
  };
  peer(5, host(10, 0, 0, 11));
  peer(6, host(10, 0, 0, 13));
  peer(10, host(10, 0, 0, 11));
  peer(11, host(10, 0, 0, 13));
  s.ports[11].resolved = false;
  for (uint32_t a : {host(10, 0, 0, 20), host(10, 0, 0, 21), host(10, 0, 0, 100)}) u.nat_addresses.insert(a, 1);

  NatView& nat = s.nat;
  nat.enabled = true;
  nat.router_mac = kRouterMac;
  nat.public_network = kPublic;
  nat.fips = {{be(203, 0, 113, 10), be(192, 0, 2, 10), kPrivate, 0},
              {be(203, 0, 113, 13), be(192, 0, 2, 7), kPrivate, 1}};
  for (uint16_t i = 0; i < nat.fips.size(); ++i) {
    nat.fip_by_public.insert(rte_be_to_cpu_32(nat.fips[i].public_ip), i);
    nat.fip_by_fixed.insert(uint64_t{nat.fips[i].network} << 32 | rte_be_to_cpu_32(nat.fips[i].fixed_ip), i);
  }
  nat.gateway_mappings = {{be(10, 0, 0, 20), be(203, 0, 113, 10)}, {be(10, 0, 0, 21), be(203, 0, 113, 11)}};
  for (uint16_t i = 0; i < nat.gateway_mappings.size(); ++i) {
    nat.gateway_by_public.insert(rte_be_to_cpu_32(nat.gateway_mappings[i].public_ip), i);
    nat.gateway_by_underlay.insert(rte_be_to_cpu_32(nat.gateway_mappings[i].underlay_ip), i);
  }
  nat.snat_address = snat.address;
  nat.neighbors = neighbors_.get();
  nat.routed_networks = {kPrivate, kPublic};
  nat.underlay_gateway_mac = {0x02, 0, 0, 0, 0, 0x01};
  // Controller's built-in egress denials and the underlay's subnet.
  for (const Ipv4Net& deny :
       {net(0, 8), net(be(127, 0, 0, 0), 8), net(be(169, 254, 0, 0), 16), net(be(100, 100, 100, 200), 32),
        net(be(224, 0, 0, 0), 4), net(be(240, 0, 0, 0), 4), net(be(10, 0, 0, 0), 24)})
    nat.egress_deny[nat.n_egress_deny++] = deny;

  ctx_ = std::make_unique<WorkerContext>();
  reset_tables();
  baseline_ = std::make_unique<LeakCheck>();
}

World::~World() {
  rte_ring_free(learn_ring_);
  rte_ring_free(underlay_punts_);
  rte_ring_free(overlay_punts_);
  rte_free(counters_);
}

// config bits: 0 blue is a hub (its peers in no split-horizon group); 1 tight flood limits; 2 tight punt limits;
// 3 a gateway rVM's public address is known (spoke routing); 4 this rVM
// does SNAT; 5 the underlay's next hop is resolved; 6 the underlay's MTU is
// unknown (0); 7 peer 10's next hop is unresolved.
void World::begin(uint8_t config) {
  Snapshot& s = *snapshot_;
  for (PortIndex p = 0; p < kMaxPorts; ++p)
    if (s.ports[p].is_peer && s.ports[p].network == kBlue)
      s.ports[p].horizon = config & 0x01 ? kNoHorizon : kMeshHorizon;
  s.limits = {};
  if (config & 0x02) {
    s.limits.flood_port = {kHz / 1000, 4};
    s.limits.flood_network = {kHz / 10000, 8};
  }
  if (config & 0x04) {
    s.limits.punt_port = {kHz / 100, 2};
    s.limits.punt_network = {kHz / 1000, 4};
  }
  s.nat.gateway_ip = (config & 0x08) ? be(198, 51, 100, 201) : 0;
  s.nat.snat = (config & 0x10) ? snat_.get() : nullptr;
  s.nat.underlay_gateway_resolved = config & 0x20;
  s.underlay.mtu = (config & 0x40) ? 0 : 1500;
  s.ports[10].resolved = !(config & 0x80);

  *ctx_ = WorkerContext{};
  WorkerContext& c = *ctx_;
  c.counters = counters_;
  c.pool = pool();
  c.learn_ring = learn_ring_;
  c.underlay_punt_ring = underlay_punts_;
  c.overlay_punt_ring = overlay_punts_;
  c.learn_window_cycles = kHz / 100;
  c.now_cycles = 1000 * kHz;
  c.now_s = 1000;
}

void World::advance(unsigned ms) noexcept {
  ctx_->now_cycles += uint64_t{ms} * (kHz / 1000);
  ctx_->now_s = static_cast<uint32_t>(ctx_->now_cycles / kHz);
}

void World::finish_burst(const char* harness) {
  WorkerContext& c = *ctx_;
  for (uint16_t d = 0; d < c.tx.n_dirty; ++d) {
    const TxBuffers::Queue& queue = c.tx.queues[c.tx.dirty[d]];
    if (queue.count > kBurstSize) fail("%s: %u frames queued for one port in one burst", harness, queue.count);
    for (uint16_t i = 0; i < queue.count; ++i) check_mbuf(queue.pkts[i], harness);
  }
  flush_tx(c, *snapshot_);
  flush_learn_requests(c);
  control_thread();
}

// The control thread's share of a burst: learn requests into the FDBs and
// punted ARP into the overlay neighbor table, as Controller does.
void World::control_thread() {
  LearnRequest request{};
  while (rte_ring_sc_dequeue_elem(learn_ring_, &request, sizeof(request)) == 0) {
    if (request.network >= kNetworks || request.port >= kMaxPorts) fail("fuzz: learn request out of range");
    const PortView& port = snapshot_->ports[request.port];
    if (!port.present || port.network != request.network)
      fail("fuzz: learn request for port %u on network %u, which it is not on", request.port, request.network);
    fdbs_[request.network]->learn(MacAddress::from_key(request.mac_key), request.port, ctx_->now_s);
  }
  PuntedFrame frame{};
  while (rte_ring_sc_dequeue_elem(underlay_punts_, &frame, sizeof(frame)) == 0) {
    if (frame.network != kInvalidNetwork) fail("fuzz: underlay ARP punted with network %u", frame.network);
    rte_pktmbuf_free(frame.m);
  }
  while (rte_ring_sc_dequeue_elem(overlay_punts_, &frame, sizeof(frame)) == 0) {
    if (frame.network >= kNetworks || !snapshot_->networks[frame.network].l3)
      fail("fuzz: ARP punted for network %u, which has no router", frame.network);
    const auto arp = parse_arp(frame.m);
    if (arp) {
      const MacAddress sender(arp->sender_mac);
      if (!sender.is_multicast() && !sender.is_zero() && arp->sender_ip != 0)
        neighbors_->learn(frame.network, arp->sender_ip, sender, ctx_->now_s, kNeighborLimit);
    }
    rte_pktmbuf_free(frame.m);
  }
}

void World::reset_tables() {
  for (auto& fdb : fdbs_) fdb->age(ctx_->now_s, 0);  // every dynamic entry; static ones stay
  for (NetworkIndex n = 0; n < kNetworks; ++n) neighbors_->forget_network(n);
  // The fuzzer is the SNAT shard's owner (worker 0) and no other thread
  // serves it, so forget_network (which waits for the owner) would wait in
  // vain: end every session the way the worker does, from here. At "the
  // end of time" every session is idle.
  constexpr uint32_t kEndOfTime = UINT32_MAX;
  snat_->expire(kEndOfTime);
  for (unsigned pass = 0; snat_->active() != 0; ++pass) {
    if (pass > 16) fail("fuzz: %u SNAT sessions did not end", snat_->active());
    snat_->service(0, kEndOfTime);
  }
  snat_->service(0, kEndOfTime);  // slots and positions back, past their grace period
  for (const PresetNeighbor& p : kPresetNeighbors) neighbors_->learn(p.network, p.ip, mac(p.mac), 0, kNeighborLimit);
  std::memset(counters_, 0, sizeof(*counters_));
}

// FUZZ_VERBOSE=1 prints what an input did, port by port: a seed's author
// sees whether it reaches the path it was written for.
void World::report() const {
  for (PortIndex p = 0; p < kMaxPorts; ++p) {
    const PortCounters& c = counters_->ports[p];
    std::string drops;
    for (size_t r = 0; r < kDropReasonCount; ++r)
      if (c.drops[r] != 0) drops += " " + std::string(kDropReasonNames[r]) + "=" + std::to_string(c.drops[r]);
    if (c.rx_packets != 0 || c.tx_packets != 0 || !drops.empty())
      std::fprintf(stderr, "port %u: rx %lu tx %lu (flooded %lu)%s\n", p, c.rx_packets, c.tx_packets, c.flood_packets,
                   drops.c_str());
  }
  std::fprintf(stderr, "translations %lu, learn requests %lu\n", counters_->nat_translations,
               counters_->learn_requests);
}

void World::end(const char* harness) {
  finish_burst(harness);
  static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
  if (verbose) report();
  reset_tables();
  baseline_->verify(harness);
}

World& world() {
  static World w;
  return w;
}

}  // namespace inception::fuzz
