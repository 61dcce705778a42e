// inception-hostile: hostile and malformed frames on a kernel interface.
//
//   inception-hostile list
//   inception-hostile build FRAME [fields]            the frames as hex, one a line
//   inception-hostile send --iface IF FRAME [fields] [--count N] [--pps R] [--vary FIELD [--span K]]
//   inception-hostile send --iface IF --hex HEX...
//   inception-hostile listen --iface IF               "ready", then "rx LENGTH HEX" per frame received
//
// Frames are the named builders of hostile_frames.h; `send` writes them to
// a packet socket (AF_PACKET, SOCK_RAW) bound to IF, byte for byte, so it
// plays a guest behind a kernel port, or a host on the underlay, from
// inside that interface's network namespace (`ip netns exec`). `listen`
// prints what IF receives (not what this host sends), 802.1Q tags put back
// where the kernel took them off.
//
// --vary FIELD changes one field per frame of a --count: src-mac (the last
// two bytes count up), src-ip, arp-spa, src-port; --span K wraps after K.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "hostile_frames.h"

namespace {

using inception::Ipv4Address;
using inception::MacAddress;
using inception::hostile::Bytes;
using inception::hostile::FrameParams;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "inception-hostile: %s\n", message.c_str());
  std::exit(1);
}

int packet_socket(const std::string& iface, bool receive) {
  const unsigned index = if_nametoindex(iface.c_str());
  if (index == 0) die("interface " + iface + ": " + std::strerror(errno));
  // Protocol 0: a socket that only sends sees no traffic at all.
  const uint16_t protocol = receive ? htons(ETH_P_ALL) : 0;
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) die("packet socket: " + std::string(std::strerror(errno)));
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = protocol;
  addr.sll_ifindex = static_cast<int>(index);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    die("interface " + iface + ": bind: " + std::strerror(errno));
  return fd;
}

void add_field_options(CLI::App& app, FrameParams& p, std::vector<std::string>& texts) {
  // Addresses are parsed after CLI11 is done: texts[i] pairs with a setter.
  texts.resize(11);
  app.add_option("--dst-mac", texts[0], "destination MAC (guest frame or inner frame)");
  app.add_option("--src-mac", texts[1], "source MAC (guest frame or inner frame)");
  app.add_option("--src-ip", texts[2], "source IPv4 address");
  app.add_option("--dst-ip", texts[3], "destination IPv4 address");
  app.add_option("--src-port", p.src_port, "UDP source port");
  app.add_option("--dst-port", p.dst_port, "UDP destination port");
  app.add_option("--marker", p.marker, "ASCII marker in the payload");
  app.add_option("--payload-bytes", p.payload_bytes, "zero bytes after the marker");
  app.add_option("--arp-op", p.arp_op, "ARP operation (1 request, 2 reply)");
  app.add_option("--arp-sha", texts[4], "ARP sender MAC (default: the Ethernet source)");
  app.add_option("--arp-spa", texts[5], "ARP sender IPv4 address (default: --src-ip)");
  app.add_option("--arp-tpa", texts[6], "ARP target IPv4 address (default: --dst-ip)");
  app.add_option("--outer-dst-mac", texts[7], "underlay: destination MAC");
  app.add_option("--outer-src-mac", texts[8], "underlay: source MAC");
  app.add_option("--outer-src-ip", texts[9], "underlay: source IPv4 address");
  app.add_option("--outer-dst-ip", texts[10], "underlay: destination IPv4 address");
  app.add_option("--vni", p.vni, "VXLAN network identifier");
  app.add_option("--vxlan-port", p.vxlan_port, "VXLAN UDP port");
  app.add_option("--mtu", p.mtu, "underlay MTU (the fragmented datagram exceeds it)");
}

void apply_field_texts(FrameParams& p, const std::vector<std::string>& t) {
  auto mac = [](const std::string& text, MacAddress& out) {
    if (text.empty()) return;
    const auto parsed = MacAddress::parse(text);
    if (!parsed) die("'" + text + "' is not a MAC address");
    out = *parsed;
  };
  auto ip = [](const std::string& text, Ipv4Address& out) {
    if (text.empty()) return;
    const auto parsed = Ipv4Address::parse(text);
    if (!parsed) die("'" + text + "' is not an IPv4 address");
    out = *parsed;
  };
  mac(t[0], p.dst_mac);
  mac(t[1], p.src_mac);
  ip(t[2], p.src_ip);
  ip(t[3], p.dst_ip);
  if (!t[4].empty()) {
    MacAddress m;
    mac(t[4], m);
    p.arp_sha = m;
  }
  if (!t[5].empty()) {
    Ipv4Address a;
    ip(t[5], a);
    p.arp_spa = a;
  }
  if (!t[6].empty()) {
    Ipv4Address a;
    ip(t[6], a);
    p.arp_tpa = a;
  }
  mac(t[7], p.outer_dst_mac);
  mac(t[8], p.outer_src_mac);
  ip(t[9], p.outer_src_ip);
  ip(t[10], p.outer_dst_ip);
}

FrameParams varied(const FrameParams& base, const std::string& field, uint64_t i) {
  FrameParams p = base;
  if (field == "src-mac") {
    auto bytes = p.src_mac.bytes();
    const auto low = static_cast<uint16_t>((bytes[4] << 8 | bytes[5]) + i);
    bytes[4] = static_cast<uint8_t>(low >> 8);
    bytes[5] = static_cast<uint8_t>(low);
    p.src_mac = MacAddress(bytes);
  } else if (field == "src-ip") {
    p.src_ip = Ipv4Address(p.src_ip.value() + static_cast<uint32_t>(i));
  } else if (field == "arp-spa") {
    p.arp_spa = Ipv4Address(p.arp_spa.value_or(p.src_ip).value() + static_cast<uint32_t>(i));
  } else if (field == "src-port") {
    p.src_port = static_cast<uint16_t>(p.src_port + i);
  }
  return p;
}

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// Sends every frame of every round, `pps` frames per second at most (0: as
// fast as the socket takes them). Returns the frames sent.
uint64_t send_frames(int fd, const std::vector<std::vector<Bytes>>& rounds, uint64_t pps) {
  uint64_t sent = 0;
  const uint64_t start = now_ns();
  for (const auto& frames : rounds) {
    for (const Bytes& frame : frames) {
      if (pps != 0) {
        const uint64_t due = start + sent * 1000000000ULL / pps;
        for (uint64_t now = now_ns(); now < due; now = now_ns()) {
          const uint64_t wait = due - now;
          timespec ts{static_cast<time_t>(wait / 1000000000ULL), static_cast<long>(wait % 1000000000ULL)};
          nanosleep(&ts, nullptr);
        }
      }
      for (;;) {
        if (send(fd, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size())) break;
        // A full device queue is back pressure, not an error.
        if (errno == ENOBUFS || errno == EAGAIN) {
          usleep(100);
          continue;
        }
        die("send of a " + std::to_string(frame.size()) + "-byte frame: " + std::strerror(errno));
      }
      ++sent;
    }
  }
  return sent;
}

int listen_frames(int fd) {
  int on = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &on, sizeof(on)) != 0)
    die("PACKET_AUXDATA: " + std::string(std::strerror(errno)));
  // A capture that counts floods must not lose frames while this process
  // waits for a core: a receive buffer for thousands of them (root may
  // exceed net.core.rmem_max).
  const int buffer_bytes = 32 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof(buffer_bytes)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<uint8_t> buffer(65536);
  for (;;) {
    sockaddr_ll from{};
    iovec iov{buffer.data(), buffer.size()};
    alignas(tpacket_auxdata) char control[CMSG_SPACE(sizeof(tpacket_auxdata))];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd, &msg, MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("receive: " + std::string(std::strerror(errno)));
    }
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    Bytes frame(buffer.begin(), buffer.begin() + std::min<ssize_t>(n, static_cast<ssize_t>(buffer.size())));
    // The kernel keeps an 802.1Q tag beside the frame (skb metadata), not in
    // it: put it back, so the capture is what was on the wire.
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
      tpacket_auxdata aux{};
      std::memcpy(&aux, CMSG_DATA(c), sizeof(aux));
      if ((aux.tp_status & TP_STATUS_VLAN_VALID) == 0 || frame.size() < 12) continue;
      const uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) != 0 ? aux.tp_vlan_tpid : 0x8100;
      const uint8_t tag[4] = {static_cast<uint8_t>(tpid >> 8), static_cast<uint8_t>(tpid),
                              static_cast<uint8_t>(aux.tp_vlan_tci >> 8), static_cast<uint8_t>(aux.tp_vlan_tci)};
      frame.insert(frame.begin() + 12, tag, tag + 4);
    }
    std::printf("rx %zu %s\n", frame.size(), inception::hostile::to_hex(frame).c_str());
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hostile and malformed frames on a kernel interface", "inception-hostile"};
  app.require_subcommand(1);

  auto* list = app.add_subcommand("list", "name every frame the generator builds");

  FrameParams params;
  std::vector<std::string> texts;
  std::string frame_name;
  auto* build = app.add_subcommand("build", "print the frames as hex, one a line");
  build->add_option("frame", frame_name, "frame name (see list)")->required();
  add_field_options(*build, params, texts);

  auto* send_cmd = app.add_subcommand("send", "send frames on an interface");
  std::string iface;
  std::vector<std::string> hex;
  uint64_t count = 1, pps = 0, span = 0;
  std::string vary;
  send_cmd->add_option("--iface", iface, "interface to send on")->required();
  auto* name_opt = send_cmd->add_option("frame", frame_name, "frame name (see list)");
  send_cmd->add_option("--hex", hex, "frames as hex instead of a name")->excludes(name_opt);
  send_cmd->add_option("--count", count, "rounds of the frame(s)")->check(CLI::PositiveNumber);
  send_cmd->add_option("--pps", pps, "frames per second at most (default: as fast as possible)");
  send_cmd->add_option("--vary", vary, "a field that changes with each round")
      ->check(CLI::IsMember({"src-mac", "src-ip", "arp-spa", "src-port"}));
  send_cmd->add_option("--span", span, "--vary wraps after this many rounds");
  std::vector<std::string> send_texts;
  add_field_options(*send_cmd, params, send_texts);

  auto* listen = app.add_subcommand("listen", "print the frames an interface receives");
  std::string listen_iface;
  listen->add_option("--iface", listen_iface, "interface to listen on")->required();

  CLI11_PARSE(app, argc, argv);

  if (list->parsed()) {
    for (const auto& kind : inception::hostile::catalog())
      std::printf("%-22s %-8s %s\n", std::string(kind.name).c_str(), std::string(kind.where).c_str(),
                  std::string(kind.summary).c_str());
    return 0;
  }
  try {
    if (build->parsed()) {
      apply_field_texts(params, texts);
      for (const Bytes& frame : inception::hostile::build(frame_name, params))
        std::printf("%s\n", inception::hostile::to_hex(frame).c_str());
      return 0;
    }
    if (send_cmd->parsed()) {
      apply_field_texts(params, send_texts);
      std::vector<std::vector<Bytes>> rounds;
      if (!hex.empty()) {
        std::vector<Bytes> frames;
        for (const std::string& h : hex) {
          auto bytes = inception::hostile::from_hex(h);
          if (!bytes || bytes->empty()) die("'" + h + "' is not a frame in hex");
          frames.push_back(std::move(*bytes));
        }
        for (uint64_t i = 0; i < count; ++i) rounds.push_back(frames);
      } else {
        if (frame_name.empty()) die("send: name a frame or give --hex");
        for (uint64_t i = 0; i < count; ++i)
          rounds.push_back(
              inception::hostile::build(frame_name, vary.empty() ? params : varied(params, vary, span ? i % span : i)));
      }
      const int fd = packet_socket(iface, false);
      std::printf("sent %lu\n", static_cast<unsigned long>(send_frames(fd, rounds, pps)));
      close(fd);
      return 0;
    }
    if (listen->parsed()) return listen_frames(packet_socket(listen_iface, true));
  } catch (const std::invalid_argument& e) {
    die(e.what());
  }
  return 0;
}
