#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz harnesses (tests/fuzz/corpus/<target>/).

Every seed is built here from named parts, so the committed files can be
regenerated and reviewed: `tests/fuzz/make_corpus.py` rewrites the corpus
directory exactly (same bytes every run). The frame record format is the
one tests/fuzz/fuzz_input.h reads; addresses and ports are those of the
fuzz world (tests/fuzz/packet_harness.h).
"""

import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- addresses of the fuzz world ----

UNDERLAY_MAC = "02:00:00:00:00:0c"
NEXT_HOP_MAC = "02:00:00:00:00:0b"  # peers' rVM (10.0.0.11) and the underlay gateway's neighbor
REALITY_ROUTER_MAC = "02:00:00:00:00:01"
ROUTER_MAC = "02:49:4e:00:00:0c"
GATEWAY_ROUTER_MAC = "02:49:4e:00:00:0b"
BROADCAST = "ff:ff:ff:ff:ff:ff"
VTEP, PEER_A, PEER_B = "10.0.0.12", "10.0.0.11", "10.0.0.13"
VNI = {"blue": 1001, "private": 1002, "public": 1003, "red": 1004}
# Indices into World::switch_ports(): ports 2..13 in order.
SWITCH_PORT = {p: p - 2 for p in range(2, 14)}

# Config byte bits (World::begin).
HUB, FLOOD_LIMITS, PUNT_LIMITS, SPOKE, SNAT, GATEWAY_RESOLVED, MTU_UNKNOWN, PEER_UNRESOLVED = (1 << i for i in range(8))

# Frame record flags (fuzz_input.h).
CKSUM_GOOD, CKSUM_BAD, CKSUM_NONE = 1 << 2, 2 << 2, 3 << 2
POOL_MBUF, NO_HEADROOM = 1 << 4, 1 << 5

ETH_IPV4, ETH_ARP, ETH_VLAN, ETH_QINQ, ETH_LLDP = 0x0800, 0x0806, 0x8100, 0x88A8, 0x88CC
TCP, UDP, ICMP = 6, 17, 1


def mac(text):
    return bytes(int(b, 16) for b in text.split(":"))


def ip(text):
    return bytes(int(b) for b in text.split("."))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def eth(dst, src, ether_type, payload, pad=True):
    frame = mac(dst) + mac(src) + struct.pack("!H", ether_type) + payload
    return frame + b"\0" * (60 - len(frame)) if pad and len(frame) < 60 else frame


def vlan(tci, ether_type, payload):
    return struct.pack("!HH", tci, ether_type) + payload


def ipv4(src, dst, proto, payload, df=True, mf=False, offset=0, ttl=64, options=b"", ident=0x1234, total=None):
    ihl = (20 + len(options)) // 4
    length = total if total is not None else 20 + len(options) + len(payload)
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | offset
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, length, ident, flags, ttl, proto, 0, ip(src), ip(dst)) + options
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def pseudo(src, dst, proto, length):
    return ip(src) + ip(dst) + struct.pack("!BBH", 0, proto, length)


def udp(src, dst, sport, dport, payload, zero_checksum=False):
    header = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    if zero_checksum:
        return header + payload
    c = checksum(pseudo(src, dst, UDP, 8 + len(payload)) + header + payload) or 0xFFFF
    return header[:6] + struct.pack("!H", c) + payload


def tcp(src, dst, sport, dport, flags=0x02, payload=b"", seq=1000, ack=0, options=b""):
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (20 + len(options)) // 4 << 4, flags, 64240, 0, 0) + options
    c = checksum(pseudo(src, dst, TCP, len(header) + len(payload)) + header + payload)
    return header[:16] + struct.pack("!H", c) + header[18:] + payload


def icmp(icmp_type, code, rest, payload=b""):
    message = struct.pack("!BBH", icmp_type, code, 0) + rest + payload
    return message[:2] + struct.pack("!H", checksum(message)) + message[4:]


def echo(ident, seq=1, request=True, payload=b"ping" * 8):
    return icmp(8 if request else 0, 0, struct.pack("!HH", ident, seq), payload)


def icmp_error(icmp_type, code, quoted_packet, mtu=0):
    """An ICMP error quoting the IPv4 header and 8 payload bytes of a packet."""
    ihl = (quoted_packet[0] & 0xF) * 4
    return icmp(icmp_type, code, struct.pack("!HH", 0, mtu), quoted_packet[: ihl + 8])


def arp(op, sender_mac, sender_ip, target_mac, target_ip, hlen=6, plen=4):
    return struct.pack("!HHBBH", 1, ETH_IPV4, hlen, plen, op) + mac(sender_mac) + ip(sender_ip) + mac(target_mac) + ip(target_ip)


def vxlan(src_ip, vni, inner, flags=0x08, dst_ip=VTEP, port=4789, src_mac=NEXT_HOP_MAC, df=True, mf=False):
    header = struct.pack("!B3xI", flags, vni << 8)
    datagram = udp(src_ip, dst_ip, 49152 + (vni & 0x3FFF), port, header + inner, zero_checksum=True)
    return eth(UNDERLAY_MAC, src_mac, ETH_IPV4, ipv4(src_ip, dst_ip, UDP, datagram, df=df, mf=mf))


def crc32c_raw(data, crc=0):
    """CRC-32C without pre- or post-inversion: what DPDK's rte_hash_crc computes."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


def snat_port(inside, remote, inside_port, remote_port, proto, network):
    """The outside port the fuzz world's SNAT table gives a flow's first session
    (nat/snat.cpp: 20000 + crc(ForwardKey) % 64 in an empty table)."""
    key = (ip(inside) + ip(remote) + struct.pack("!HH", inside_port, 0 if proto == ICMP else remote_port)
           + struct.pack("<BBH", proto, 0, network))
    return 20000 + crc32c_raw(key) % 64


# ---- records ----


def record(frame, flags=0, cuts=()):
    """A frame record: flags:u8 length:u16be cut:u16be x (flags & 3) bytes."""
    cuts = list(cuts)
    assert len(cuts) <= 3
    flags = (flags & ~3) | len(cuts)
    return struct.pack("!BH", flags, len(frame)) + b"".join(struct.pack("!H", c) for c in cuts) + frame


def rest_record(frame, flags=0, cuts=()):
    cuts = list(cuts)
    flags = (flags & ~3) | len(cuts)
    return struct.pack("!B", flags) + b"".join(struct.pack("!H", c) for c in cuts) + frame


def burst(selector, frames, advance_ms=0):
    """A burst: selector:u8 advance_ms:u8 count:u8 records; frames are records."""
    assert 1 <= len(frames) <= 32
    return struct.pack("!BBB", selector, advance_ms, len(frames) - 1) + b"".join(frames)


def world_input(config, *bursts):
    return bytes([config]) + b"".join(bursts)


# ---- frames used by several targets ----


def guest_udp(src_mac, dst_mac, src, dst, sport=5000, dport=53, payload=b"query", **kw):
    return eth(dst_mac, src_mac, ETH_IPV4, ipv4(src, dst, UDP, udp(src, dst, sport, dport, payload), **kw))


def guest_tcp(src_mac, dst_mac, src, dst, sport=40000, dport=80, flags=0x02, payload=b""):
    return eth(dst_mac, src_mac, ETH_IPV4, ipv4(src, dst, TCP, tcp(src, dst, sport, dport, flags, payload)))


def guest_ping(src_mac, dst_mac, src, dst, ident=0x77):
    return eth(dst_mac, src_mac, ETH_IPV4, ipv4(src, dst, ICMP, echo(ident)))


def big_ipv4(src_mac, dst_mac, size=1514, df=True):
    payload = bytes((i * 7) & 0xFF for i in range(size - 14 - 28))
    return eth(dst_mac, src_mac, ETH_IPV4, ipv4("192.0.2.1", "192.0.2.9", UDP, udp("192.0.2.1", "192.0.2.9", 7, 9, payload), df=df))


# ---- per-target seeds ----


def bridge_seeds():
    g2, g3, g4 = "02:00:00:00:00:02", "52:54:00:00:00:03", "52:54:00:00:00:04"
    s = {}
    s["broadcast-from-each-local-port"] = world_input(
        0, *(burst(SWITCH_PORT[p], [record(eth(BROADCAST, m, 0x88B5, b"hello"))])
             for p, m in ((2, g2), (3, g3), (4, g4), (12, "02:00:00:00:0c:01"))))
    s["learn-then-unicast"] = world_input(
        0,
        burst(SWITCH_PORT[2], [record(eth(BROADCAST, g2, 0x88B5, b"who"))]),
        burst(SWITCH_PORT[4], [record(eth(g2, g4, 0x88B5, b"reply"))], advance_ms=20),
        burst(SWITCH_PORT[2], [record(eth(g4, g2, 0x88B5, b"data"))] * 4, advance_ms=20))
    s["unicast-to-peers-and-split-horizon"] = world_input(
        0,
        burst(SWITCH_PORT[2], [record(eth("02:00:00:00:05:01", g2, ETH_IPV4, b"x" * 100)),
                               record(eth("02:00:00:00:06:01", g2, ETH_IPV4, b"y" * 100))]),
        burst(SWITCH_PORT[5], [record(eth("02:00:00:00:06:01", "02:00:00:00:05:02", 0x88B5, b"relay?")),
                               record(eth(BROADCAST, "02:00:00:00:05:02", 0x88B5, b"flood"))]))
    s["hub-relays-peer-floods"] = world_input(
        HUB, burst(SWITCH_PORT[6], [record(eth(BROADCAST, "02:00:00:00:06:02", 0x88B5, b"flood"))]))
    s["port-security"] = world_input(
        0,
        burst(SWITCH_PORT[3], [
            record(guest_udp(g3, BROADCAST, "192.0.2.3", "192.0.2.255")),           # its own address
            record(guest_udp(g3, BROADCAST, "198.51.100.20", "198.51.100.255")),    # in its /28
            record(guest_udp(g3, BROADCAST, "192.0.2.99", "192.0.2.255")),          # spoofed IP
            record(guest_udp("52:54:00:00:00:99", BROADCAST, "192.0.2.3", "192.0.2.255")),  # spoofed MAC
            record(eth(BROADCAST, g3, ETH_ARP, arp(1, g3, "192.0.2.3", "00:00:00:00:00:00", "192.0.2.1"))),
            record(eth(BROADCAST, g3, ETH_ARP, arp(1, g3, "192.0.2.77", "00:00:00:00:00:00", "192.0.2.77"))),
            record(eth(BROADCAST, g3, ETH_ARP, arp(1, "52:54:00:00:00:88", "192.0.2.3", "00:00:00:00:00:00", "192.0.2.1"))),
            record(eth(BROADCAST, g3, ETH_VLAN, vlan(5, ETH_IPV4, ipv4("192.0.2.99", "192.0.2.1", UDP, b"\0" * 8)))),
            record(eth(BROADCAST, g3, ETH_QINQ, vlan(5, ETH_VLAN, vlan(6, ETH_IPV4, b"")))),
            record(eth(BROADCAST, g3, ETH_IPV4, b"\x45\0", pad=False)),  # truncated IPv4
            record(guest_udp(g3, BROADCAST, "0.0.0.0", "255.255.255.255", 68, 67)),  # DHCP discover
        ]),
        burst(SWITCH_PORT[4], [record(eth(BROADCAST, g4, 0x88B5, b"ok")),
                               record(eth(BROADCAST, "52:54:00:00:00:05", 0x88B5, b"spoof"))]))
    s["chained-frames"] = world_input(
        0,
        burst(SWITCH_PORT[2], [
            record(big_ipv4(g2, BROADCAST, 3000), cuts=[1500]),
            record(big_ipv4(g2, BROADCAST, 3000), cuts=[14, 34, 2000]),
            record(big_ipv4(g2, "02:00:00:00:05:01", 1400), cuts=[700]),
            record(eth(BROADCAST, g2, 0x88B5, b"z" * 200), cuts=[10]),  # header split over segments
            record(eth(BROADCAST, g2, 0x88B5, b"w" * 200), flags=POOL_MBUF, cuts=[100]),
        ]))
    s["too-big-for-the-tunnel"] = world_input(
        0, burst(SWITCH_PORT[2], [record(big_ipv4(g2, "02:00:00:00:05:01", 1514)),
                                  record(big_ipv4(g2, "02:00:00:00:05:01", 1514, df=False)),
                                  record(big_ipv4(g2, BROADCAST, 1600))]))
    s["malformed-and-reserved"] = world_input(
        0, burst(SWITCH_PORT[2], [
            record(b"\xff" * 10),                                        # runt
            record(eth(BROADCAST, "01:00:5e:00:00:01", 0x88B5, b"")),    # multicast source
            record(eth(BROADCAST, "00:00:00:00:00:00", 0x88B5, b"")),    # zero source
            record(eth("01:80:c2:00:00:0e", g2, ETH_LLDP, b"lldp")),     # link-local group
            record(eth("01:80:c2:00:00:00", g2, 0x0026, b"stp")),
            record(eth("01:00:5e:00:00:fb", g2, ETH_IPV4, b"mdns")),
            record(b"", flags=NO_HEADROOM),
        ]))
    s["mac-quota-and-limits"] = world_input(
        FLOOD_LIMITS | PUNT_LIMITS,
        burst(SWITCH_PORT[13], [record(eth(BROADCAST, "02:00:00:00:0d:%02x" % i, 0x88B5, b"q")) for i in range(1, 9)]),
        burst(SWITCH_PORT[13], [record(eth(BROADCAST, "02:00:00:00:0d:01", 0x88B5, b"q"))] * 16, advance_ms=50),
        burst(SWITCH_PORT[12], [record(eth(BROADCAST, "02:00:00:00:0c:01", 0x88B5, b"f"))] * 32, advance_ms=200))
    # The routed networks, through the bridge.
    g7, g8 = "52:54:00:00:01:07", "52:54:00:00:01:08"
    s["router-arp-and-routing"] = world_input(
        SNAT | GATEWAY_RESOLVED,
        burst(SWITCH_PORT[8], [
            record(eth(BROADCAST, g8, ETH_ARP, arp(1, g8, "192.0.2.8", "00:00:00:00:00:00", "192.0.2.254"))),
            record(eth(BROADCAST, g8, ETH_ARP, arp(1, g8, "192.0.2.8", "00:00:00:00:00:00", "192.0.2.10"))),
        ]),
        burst(SWITCH_PORT[8], [
            record(guest_udp(g8, ROUTER_MAC, "192.0.2.8", "203.0.113.200")),
            record(guest_tcp(g8, ROUTER_MAC, "192.0.2.8", "203.0.113.200")),
            record(guest_ping(g8, ROUTER_MAC, "192.0.2.8", "203.0.113.200")),
            record(guest_udp(g8, ROUTER_MAC, "192.0.2.8", "169.254.169.254", dport=80)),
            record(guest_udp(g8, ROUTER_MAC, "192.0.2.10", "203.0.113.200")),  # floating IP's fixed address
        ], advance_ms=1),
        burst(SWITCH_PORT[7], [record(guest_udp(g7, ROUTER_MAC, "192.0.2.7", "203.0.113.200")),
                               record(guest_udp(g7, "52:54:00:00:01:0a", "192.0.2.7", "192.0.2.10"))]))
    s["public-network-from-the-gateway"] = world_input(
        SPOKE,
        burst(SWITCH_PORT[10], [
            record(eth(BROADCAST, GATEWAY_ROUTER_MAC, ETH_ARP, arp(1, GATEWAY_ROUTER_MAC, "198.51.100.201", "00:00:00:00:00:00", "203.0.113.10"))),
            record(eth(BROADCAST, GATEWAY_ROUTER_MAC, ETH_ARP, arp(2, GATEWAY_ROUTER_MAC, "203.0.113.11", "00:00:00:00:00:00", "203.0.113.11"))),
            record(guest_tcp(GATEWAY_ROUTER_MAC, ROUTER_MAC, "198.18.0.1", "203.0.113.10", 443, 40000, 0x12)),
            record(guest_udp(GATEWAY_ROUTER_MAC, ROUTER_MAC, "203.0.113.200", "192.0.2.8", 53, 5000)),
        ]),
        burst(SWITCH_PORT[8], [record(guest_udp("52:54:00:00:01:08", ROUTER_MAC, "192.0.2.8", "203.0.113.200"))]))
    return s


def underlay_seeds():
    inner = lambda dst, src, payload=b"inner": eth(dst, src, 0x88B5, payload)
    s = {}
    s["vxlan-each-network-and-peer"] = world_input(
        0, burst(0, [record(vxlan(peer, VNI[n], inner(BROADCAST, "02:00:00:00:%02x:01" % i)), flags=CKSUM_GOOD if i % 2 else 0)
                     for i, (peer, n) in enumerate((p, n) for p in (PEER_A, PEER_B) for n in VNI)]))
    s["vxlan-malformed"] = world_input(
        0, burst(0, [
            record(vxlan(PEER_A, 1001, inner(BROADCAST, "02:00:00:00:05:09"), flags=0x00)),  # I flag clear
            record(vxlan(PEER_A, 4242, inner(BROADCAST, "02:00:00:00:05:09"))),             # unknown VNI
            record(vxlan("10.0.0.99", 1001, inner(BROADCAST, "02:00:00:00:05:09"))),         # unknown peer
            record(vxlan(PEER_A, 1001, inner(BROADCAST, "02:00:00:00:05:09"), mf=True)),    # a first fragment
            record(vxlan(PEER_A, 1001, inner(BROADCAST, "02:00:00:00:05:09")), flags=CKSUM_BAD),
            record(vxlan(PEER_A, 1001, inner(BROADCAST, "02:00:00:00:05:09"))[:60]),         # truncated
            record(vxlan(PEER_A, 1001, inner(BROADCAST, "02:00:00:00:05:09"))[:49]),
            record(vxlan(PEER_A, 1001, inner(BROADCAST, "02:00:00:00:05:09")) + b"\0" * 18),  # padded
            record(vxlan(PEER_A, 1001, big_ipv4("02:00:00:00:05:09", BROADCAST, 1600))),     # over the MTU
        ]))
    s["vxlan-chained"] = world_input(
        0, burst(0, [record(vxlan(PEER_A, 1001, big_ipv4("02:00:00:00:05:09", BROADCAST, 1400)), cuts=[64]),
                     record(vxlan(PEER_B, 1001, inner(BROADCAST, "02:00:00:00:06:09", b"x" * 300)), cuts=[30, 50, 70]),
                     record(vxlan(PEER_A, 1003, inner(BROADCAST, GATEWAY_ROUTER_MAC)), flags=POOL_MBUF, cuts=[100])]))
    s["underlay-arp"] = world_input(
        0, burst(0, [
            record(eth(BROADCAST, NEXT_HOP_MAC, ETH_ARP, arp(1, NEXT_HOP_MAC, PEER_A, "00:00:00:00:00:00", VTEP))),
            record(eth(UNDERLAY_MAC, NEXT_HOP_MAC, ETH_ARP, arp(2, NEXT_HOP_MAC, PEER_A, UNDERLAY_MAC, VTEP))),
            record(eth(BROADCAST, "02:00:00:00:00:63", ETH_ARP, arp(1, "02:00:00:00:00:63", "10.0.0.99", "00:00:00:00:00:00", VTEP))),
            record(eth(BROADCAST, REALITY_ROUTER_MAC, ETH_ARP, arp(1, REALITY_ROUTER_MAC, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.20"))),
            record(eth(BROADCAST, REALITY_ROUTER_MAC, ETH_ARP, arp(1, REALITY_ROUTER_MAC, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.77"))),
            record(eth(BROADCAST, NEXT_HOP_MAC, ETH_ARP, arp(1, NEXT_HOP_MAC, PEER_A, "00:00:00:00:00:00", VTEP, hlen=7))),
        ]))
    s["host-traffic"] = world_input(
        0,
        burst(0, [
            record(guest_tcp(NEXT_HOP_MAC, UNDERLAY_MAC, PEER_A, VTEP, 22, 50000, 0x10)),
            record(guest_tcp(NEXT_HOP_MAC, "02:00:00:00:00:99", PEER_A, "10.0.0.99", 22, 50000, 0x10)),  # not for us
            record(eth(UNDERLAY_MAC, NEXT_HOP_MAC, ETH_VLAN, vlan(0x6000, ETH_IPV4, ipv4(PEER_A, VTEP, UDP, udp(PEER_A, VTEP, 1, 2, b"p"))))),
            record(eth(UNDERLAY_MAC, NEXT_HOP_MAC, ETH_VLAN, vlan(0x6005, ETH_IPV4, b""))),  # VLAN 5: not a priority tag
            record(eth(UNDERLAY_MAC, NEXT_HOP_MAC, 0x86DD, b"\x60" + b"\0" * 39)),  # IPv6: the host's
            record(eth(UNDERLAY_MAC, UNDERLAY_MAC, ETH_IPV4, b"\0" * 20)),  # our own frame, seen again
            record(guest_udp(NEXT_HOP_MAC, UNDERLAY_MAC, PEER_A, VTEP, options=b"\x01\x01\x01\x00"), flags=CKSUM_NONE),
        ]),
        burst(1, [record(guest_tcp(UNDERLAY_MAC, NEXT_HOP_MAC, VTEP, PEER_A, 50000, 22, 0x18, b"ssh"))]))
    s["nat-inbound"] = world_input(
        SNAT | GATEWAY_RESOLVED,
        burst(0, [
            record(guest_tcp(REALITY_ROUTER_MAC, UNDERLAY_MAC, "198.18.0.1", "10.0.0.20", 443, 40000, 0x12)),
            record(guest_udp(REALITY_ROUTER_MAC, UNDERLAY_MAC, "198.18.0.1", "10.0.0.21", 53, 5000)),
            record(guest_udp(REALITY_ROUTER_MAC, UNDERLAY_MAC, "203.0.113.200", "10.0.0.100", 53, 20001)),
        ]))
    # A spoke's iVM reaches the internet through this gateway's SNAT (over
    # public, relayed by peer 10), and the reply comes back.
    relayed = guest_udp(GATEWAY_ROUTER_MAC, ROUTER_MAC, "192.0.2.8", "203.0.113.200", 5000, 53)
    s["snat-session-and-reply"] = world_input(
        SNAT | GATEWAY_RESOLVED,
        burst(0, [record(vxlan(PEER_A, VNI["public"], relayed))]),
        burst(0, [record(guest_udp(REALITY_ROUTER_MAC, UNDERLAY_MAC, "203.0.113.200", "10.0.0.100", 53,
                                   snat_port("192.0.2.8", "203.0.113.200", 5000, 53, UDP, 2))),
                  record(guest_udp(REALITY_ROUTER_MAC, UNDERLAY_MAC, "203.0.113.200", "10.0.0.100", 53, 19999))],
              advance_ms=1))
    return s


def router_seeds():
    g8 = "52:54:00:00:01:08"
    entry = lambda mode, port_index: port_index * 3 + mode  # router_fuzz.cpp: kRoutedPorts = 7, 8, 9, 10, 11
    inside_udp = ipv4("192.0.2.8", "203.0.113.200", UDP, udp("192.0.2.8", "203.0.113.200", 5000, 53, b"q"))
    inside_tcp = ipv4("192.0.2.8", "203.0.113.200", TCP, tcp("192.0.2.8", "203.0.113.200", 40000, 80))
    udp_port = snat_port("192.0.2.8", "203.0.113.200", 5000, 53, UDP, 1)
    tcp_port = snat_port("192.0.2.8", "203.0.113.200", 40000, 80, TCP, 1)
    s = {}
    s["snat-outbound-each-protocol"] = world_input(
        SNAT | GATEWAY_RESOLVED,
        burst(entry(0, 1), [record(guest_udp(g8, ROUTER_MAC, "192.0.2.8", "203.0.113.200")),
                            record(guest_tcp(g8, ROUTER_MAC, "192.0.2.8", "203.0.113.200")),
                            record(guest_tcp(g8, ROUTER_MAC, "192.0.2.8", "203.0.113.200", flags=0x11)),
                            record(guest_ping(g8, ROUTER_MAC, "192.0.2.8", "203.0.113.200")),
                            record(eth(ROUTER_MAC, g8, ETH_IPV4, ipv4("192.0.2.8", "203.0.113.200", 47, b"gre!")))]),
        burst(entry(2, 0), [
            record(guest_udp(REALITY_ROUTER_MAC, UNDERLAY_MAC, "203.0.113.200", "10.0.0.100", 53,
                             snat_port("192.0.2.8", "203.0.113.200", 5000, 53, UDP, 1))),
            record(guest_tcp(REALITY_ROUTER_MAC, UNDERLAY_MAC, "203.0.113.200", "10.0.0.100", 80,
                             snat_port("192.0.2.8", "203.0.113.200", 40000, 80, TCP, 1), flags=0x12)),
            record(eth(UNDERLAY_MAC, REALITY_ROUTER_MAC, ETH_IPV4, ipv4("203.0.113.200", "10.0.0.100", ICMP, echo(
                snat_port("192.0.2.8", "203.0.113.200", 0x77, 0x77, ICMP, 1), request=False)))),
        ]))
    s["floating-ip-both-ways"] = world_input(
        GATEWAY_RESOLVED,
        burst(entry(0, 1), [record(guest_tcp("52:54:00:00:01:0a", ROUTER_MAC, "192.0.2.10", "198.18.0.1", 40000, 443))]),
        burst(entry(2, 0), [record(guest_tcp(REALITY_ROUTER_MAC, UNDERLAY_MAC, "198.18.0.1", "10.0.0.20", 443, 40000, 0x12))]),
        burst(entry(0, 3), [record(guest_tcp(GATEWAY_ROUTER_MAC, ROUTER_MAC, "198.18.0.1", "203.0.113.13", 443, 40000, 0x12)),
                            record(guest_udp(GATEWAY_ROUTER_MAC, ROUTER_MAC, "203.0.113.11", "198.18.0.1"))]))
    s["spoke-routing"] = world_input(
        SPOKE,
        burst(entry(0, 1), [record(guest_udp(g8, ROUTER_MAC, "192.0.2.8", "203.0.113.200")),
                            record(guest_udp(g8, ROUTER_MAC, "192.0.2.99", "198.51.100.7"))]),
        burst(entry(0, 3), [record(guest_udp(GATEWAY_ROUTER_MAC, ROUTER_MAC, "203.0.113.200", "192.0.2.8", 53, 5000))]))
    s["icmp-errors-through-nat"] = world_input(
        SNAT | GATEWAY_RESOLVED,
        burst(entry(0, 1), [record(eth(ROUTER_MAC, g8, ETH_IPV4, inside_udp)),
                            record(eth(ROUTER_MAC, g8, ETH_IPV4, inside_tcp))]),
        burst(entry(2, 0), [
            record(eth(UNDERLAY_MAC, REALITY_ROUTER_MAC, ETH_IPV4,
                       ipv4("198.18.0.254", "10.0.0.100", ICMP, icmp_error(11, 0, ipv4("10.0.0.100", "203.0.113.200", UDP, udp("10.0.0.100", "203.0.113.200", udp_port, 53, b"q")))))),
            record(eth(UNDERLAY_MAC, REALITY_ROUTER_MAC, ETH_IPV4,
                       ipv4("203.0.113.200", "10.0.0.100", ICMP, icmp_error(3, 3, ipv4("10.0.0.100", "203.0.113.200", TCP, tcp("10.0.0.100", "203.0.113.200", tcp_port, 80)))))),
        ]),
        burst(entry(0, 1), [record(eth(ROUTER_MAC, g8, ETH_IPV4,
                                       ipv4("192.0.2.8", "203.0.113.200", ICMP, icmp_error(3, 3, ipv4("203.0.113.200", "192.0.2.8", UDP, udp("203.0.113.200", "192.0.2.8", 53, 5000, b"r"))))))]))
    s["router-arp"] = world_input(
        PUNT_LIMITS,
        burst(entry(1, 1), [record(eth(BROADCAST, g8, ETH_ARP, arp(1, g8, "192.0.2.8", "00:00:00:00:00:00", "192.0.2.254"))),
                            record(eth(ROUTER_MAC, g8, ETH_ARP, arp(2, g8, "192.0.2.8", ROUTER_MAC, "192.0.2.254"))),
                            record(eth(BROADCAST, g8, ETH_ARP, arp(1, g8, "192.0.2.254", "00:00:00:00:00:00", "192.0.2.254")))]),
        burst(entry(1, 3), [record(eth(BROADCAST, GATEWAY_ROUTER_MAC, ETH_ARP, arp(1, GATEWAY_ROUTER_MAC, "198.51.100.201", "00:00:00:00:00:00", "203.0.113.13")))]))
    s["malformed-to-router"] = world_input(
        SNAT,
        burst(entry(0, 1), [
            record(eth(ROUTER_MAC, g8, ETH_IPV4, b"\x46" + inside_udp[1:])),  # IHL says options that are not there
            record(eth(ROUTER_MAC, g8, ETH_IPV4, inside_udp[:24])),          # truncated transport header
            record(eth(ROUTER_MAC, g8, ETH_IPV4, ipv4("192.0.2.8", "203.0.113.200", UDP, b"", offset=100))),  # later fragment
            record(eth(ROUTER_MAC, g8, ETH_IPV4, inside_udp), cuts=[30]),    # header over two segments
            record(eth(ROUTER_MAC, g8, 0x86DD, b"\x60" + b"\0" * 39)),
        ]))
    return s


def arp_seeds():
    header = lambda port_index, local="192.0.2.254", requested="192.0.2.9": bytes([port_index]) + ip(local) + ip(requested)
    g8 = "52:54:00:00:01:08"
    s = {}
    s["request-for-the-router"] = header(1) + rest_record(eth(BROADCAST, g8, ETH_ARP, arp(1, g8, "192.0.2.8", "00:00:00:00:00:00", "192.0.2.254")))
    s["request-for-someone-else"] = header(1) + rest_record(eth(BROADCAST, g8, ETH_ARP, arp(1, g8, "192.0.2.8", "00:00:00:00:00:00", "192.0.2.77")))
    s["reply"] = header(1) + rest_record(eth(ROUTER_MAC, g8, ETH_ARP, arp(2, g8, "192.0.2.8", ROUTER_MAC, "192.0.2.254")))
    s["gratuitous-on-public-from-a-peer"] = header(3, "198.51.100.202") + rest_record(
        eth(BROADCAST, GATEWAY_ROUTER_MAC, ETH_ARP, arp(1, GATEWAY_ROUTER_MAC, "203.0.113.11", "00:00:00:00:00:00", "203.0.113.11")))
    s["request-for-a-floating-ip"] = header(2, "198.51.100.202") + rest_record(
        eth(BROADCAST, "52:54:00:00:02:09", ETH_ARP, arp(1, "52:54:00:00:02:09", "198.51.100.9", "00:00:00:00:00:00", "203.0.113.10")))
    s["bad-lengths"] = header(1) + rest_record(eth(BROADCAST, g8, ETH_ARP, arp(1, g8, "192.0.2.8", "00:00:00:00:00:00", "192.0.2.254", hlen=8, plen=6)))
    s["truncated"] = header(1) + rest_record(eth(BROADCAST, g8, ETH_ARP, arp(1, g8, "192.0.2.8", "00:00:00:00:00:00", "192.0.2.254"), pad=False)[:40])
    s["split-over-segments"] = header(1) + rest_record(eth(BROADCAST, g8, ETH_ARP, arp(1, g8, "192.0.2.8", "00:00:00:00:00:00", "192.0.2.254")), cuts=[20])
    return s


def translate_seeds():
    # op bit 0: destination; bit 1: with a port; bit 2: clamp the MSS to the port first.
    header = lambda op, new_ip="203.0.113.10", port=20001: bytes([op]) + ip(new_ip) + struct.pack("!H", port)
    a, b = "192.0.2.8", "198.18.0.1"
    s = {}
    s["udp-source-and-port"] = header(2) + rest_record(guest_udp("02:00:00:00:00:01", ROUTER_MAC, a, b))
    s["udp-zero-checksum"] = header(3, a, 5000) + rest_record(eth(ROUTER_MAC, "02:00:00:00:00:01", ETH_IPV4, ipv4(b, "10.0.0.100", UDP, udp(b, "10.0.0.100", 53, 20001, b"r", zero_checksum=True))))
    s["tcp-syn-source"] = header(2) + rest_record(guest_tcp("02:00:00:00:00:01", ROUTER_MAC, a, b))
    s["tcp-destination"] = header(1, a) + rest_record(guest_tcp("02:00:00:00:00:01", ROUTER_MAC, b, "203.0.113.10", 443, 40000, 0x12, b"data"))
    s["echo-identifier"] = header(2) + rest_record(guest_ping("02:00:00:00:00:01", ROUTER_MAC, a, b))
    s["echo-reply-destination"] = header(3, a, 0x77) + rest_record(eth(ROUTER_MAC, "02:00:00:00:00:01", ETH_IPV4, ipv4(b, "10.0.0.100", ICMP, echo(20001, request=False))))
    s["error-quoting-udp"] = header(3, a, 5000) + rest_record(eth(ROUTER_MAC, "02:00:00:00:00:01", ETH_IPV4, ipv4("198.18.0.254", "10.0.0.100", ICMP, icmp_error(11, 0, ipv4("10.0.0.100", b, UDP, udp("10.0.0.100", b, 20001, 53, b"q"))))))
    s["error-quoting-tcp"] = header(3, a, 40000) + rest_record(eth(ROUTER_MAC, "02:00:00:00:00:01", ETH_IPV4, ipv4(b, "10.0.0.100", ICMP, icmp_error(3, 3, ipv4("10.0.0.100", b, TCP, tcp("10.0.0.100", b, 20001, 80))))))
    s["error-quoting-echo"] = header(3, a, 0x77) + rest_record(eth(ROUTER_MAC, "02:00:00:00:00:01", ETH_IPV4, ipv4("198.18.0.254", "10.0.0.100", ICMP, icmp_error(11, 0, ipv4("10.0.0.100", b, ICMP, echo(20001))))))
    s["frag-needed-outbound"] = header(2) + rest_record(eth(ROUTER_MAC, "02:00:00:00:00:01", ETH_IPV4, ipv4(a, b, ICMP, icmp_error(3, 4, ipv4(b, a, UDP, udp(b, a, 53, 5000, b"x" * 40)), mtu=1450))))
    s["options-and-first-fragment"] = header(2) + rest_record(eth(ROUTER_MAC, "02:00:00:00:00:01", ETH_IPV4, ipv4(a, b, UDP, udp(a, b, 5000, 53, b"y" * 16), mf=True, df=False, options=b"\x94\x04\0\0")))
    s["later-fragment"] = header(2) + rest_record(eth(ROUTER_MAC, "02:00:00:00:00:01", ETH_IPV4, ipv4(a, b, UDP, b"z" * 24, df=False, offset=3)))
    s["split-header"] = header(2) + rest_record(guest_tcp("02:00:00:00:00:01", ROUTER_MAC, a, b), cuts=[40])
    syn = lambda flags, options: rest_record(eth(ROUTER_MAC, "02:00:00:00:00:01", ETH_IPV4, ipv4(a, b, TCP, tcp(a, b, 40000, 80, flags, options=options))))
    s["mss-clamp-syn"] = header(6, port=1410) + syn(0x02, b"\x02\x04\x05\xb4")
    s["mss-clamp-syn-ack-odd"] = header(7, a, 1410) + syn(0x12, b"\x01\x02\x04\x05\xb4\x01\x01\x00")
    s["mss-clamp-after-sack-wscale"] = header(4, port=1360) + syn(0x02, b"\x01\x01\x04\x02\x01\x03\x03\x07\x02\x04\x23\x28")
    s["mss-clamp-small-already"] = header(6, port=1410) + syn(0x02, b"\x02\x04\x02\x18")
    s["mss-clamp-header-past-datagram"] = header(6, port=1410) + rest_record(eth(ROUTER_MAC, "02:00:00:00:00:01", ETH_IPV4, ipv4(a, b, TCP, tcp(a, b, 40000, 80, 0x02, options=b"\x01\x01\x02\x04\x05\xb4\x00\x00"), total=20 + 27)))
    return s


def icmp_error_seeds():
    mtu = lambda m=1450: struct.pack("!H", m)
    s = {}
    s["udp-with-df"] = mtu() + rest_record(big_ipv4("02:00:00:00:00:01", "02:00:00:00:05:01"))
    s["without-df"] = mtu() + rest_record(big_ipv4("02:00:00:00:00:01", "02:00:00:00:05:01", df=False))
    s["tcp-with-options"] = mtu(1400) + rest_record(eth("02:00:00:00:05:01", "02:00:00:00:00:01", ETH_IPV4, ipv4("192.0.2.1", "192.0.2.9", TCP, tcp("192.0.2.1", "192.0.2.9", 40000, 80, 0x18, b"d" * 1400), options=b"\x01" * 8)))
    s["echo"] = mtu() + rest_record(eth("02:00:00:00:05:01", "02:00:00:00:00:01", ETH_IPV4, ipv4("192.0.2.1", "192.0.2.9", ICMP, echo(1, payload=b"p" * 1460))))
    s["an-icmp-error"] = mtu() + rest_record(eth("02:00:00:00:05:01", "02:00:00:00:00:01", ETH_IPV4, ipv4("192.0.2.1", "192.0.2.9", ICMP, icmp_error(3, 1, ipv4("192.0.2.9", "192.0.2.1", UDP, b"\0" * 8)))))
    s["broadcast-source"] = mtu() + rest_record(eth("02:00:00:00:05:01", "02:00:00:00:00:01", ETH_IPV4, ipv4("255.255.255.255", "192.0.2.9", UDP, b"\0" * 8)))
    s["fragment"] = mtu() + rest_record(eth("02:00:00:00:05:01", "02:00:00:00:00:01", ETH_IPV4, ipv4("192.0.2.1", "192.0.2.9", UDP, b"\0" * 8, offset=10)))
    s["short"] = mtu() + rest_record(eth("02:00:00:00:05:01", "02:00:00:00:00:01", ETH_IPV4, ipv4("192.0.2.1", "192.0.2.9", UDP, b"")[:20], pad=False))
    s["chained"] = mtu() + rest_record(big_ipv4("02:00:00:00:00:01", "02:00:00:00:05:01", 3000), cuts=[38])
    return s


def coalesce_seeds():
    """Bursts (count-1:u8, records) toward a guest that takes TSO."""
    def segment(seq, length, sport=40000, flags=0x10, bad=False, options=b""):
        payload = bytes((seq + i) & 0xFF for i in range(length))
        segment = tcp("198.51.100.7", "192.0.2.2", sport, 80, flags, payload, seq=seq, ack=77)
        if bad:
            segment = segment[:-1] + bytes([segment[-1] ^ 0x40])
        return eth("02:00:00:00:00:02", "02:00:00:00:00:01", ETH_IPV4, ipv4("198.51.100.7", "192.0.2.2", TCP, segment, options=options))

    def bursts(*frames):
        return struct.pack("!B", len(frames) - 1) + b"".join(frames)

    mss = 1448
    s = {}
    s["in-order-run"] = bursts(*(record(segment(1000 + i * mss, mss)) for i in range(8)), record(segment(1000 + 8 * mss, 300, flags=0x18)))
    s["two-flows-interleaved"] = bursts(*(record(segment(1000 + (i // 2) * mss, mss, sport=40000 + i % 2)) for i in range(8)))
    s["gap-and-late"] = bursts(record(segment(1000, mss)), record(segment(1000 + 2 * mss, mss)), record(segment(1000 + 3 * mss, mss)), record(segment(1000 + mss, mss)))
    s["bad-checksum-inside"] = bursts(record(segment(1000, mss)), record(segment(1000 + mss, mss, bad=True)), record(segment(1000 + 2 * mss, mss)))
    s["fin-and-udp"] = bursts(record(segment(1000, mss)), record(segment(1000 + mss, mss, flags=0x11)), record(guest_udp("02:00:00:00:00:01", "02:00:00:00:00:02", "192.0.2.1", "192.0.2.2")))
    s["chained-and-pool"] = bursts(record(segment(1000, 600), cuts=[54, 300]), record(segment(1600, 600), flags=POOL_MBUF), record(segment(2200, 600), flags=POOL_MBUF))
    s["ip-options"] = bursts(record(segment(1000, 500, options=b"\x01" * 4)), record(segment(1500, 500, options=b"\x01" * 4)))
    return s


def control_seeds():
    def req(command, **args):
        import json
        return json.dumps({"version": 1, "command": command, "args": args}, separators=(",", ":"))

    s = {}
    for command in ("network.list", "port.list", "fdb.show", "stats", "config.show", "neigh.show", "fip.list",
                    "gateway.list", "nat.show", "nat.sessions"):
        s["read-" + command] = req(command)
    s["network-life"] = "\n".join([
        req("network.add", name="blue", vni=2001, fdb_limit=64, hub=True, neighbor_limit=8),
        req("network.show", name="blue"), req("fdb.show", network="blue"),
        req("network.add", name="blue", vni=2002), req("network.add", name="green", vni=2001),
        req("network.del", name="blue"), req("network.del", name="blue")])
    s["floating-ips"] = "\n".join([
        req("network.add", name="public", vni=1002), req("network.add", name="private", vni=1001),
        req("fip.add", public="203.0.113.10", fixed="192.0.2.10", network="private"),
        req("fip.add", public="203.0.113.10", fixed="192.0.2.11", network="private"),
        req("fip.list"), req("network.del", name="private"), req("fip.del", public="203.0.113.10"),
        req("config.show")])
    s["refused-without-underlay"] = "\n".join([
        req("network.add", name="blue", vni=2001, peers=["10.0.0.11"]),
        req("network.add", name="red", vni=2002), req("peer.add", network="red", ip="10.0.0.11"),
        req("neigh.add", ip="10.0.0.1", mac="02:00:00:00:00:01"),
        req("gateway.add", underlay="10.0.0.20", public="203.0.113.10")])
    s["ports"] = "\n".join([
        req("network.add", name="blue", vni=2001),
        req("port.add", name="ivm1", type="vhost-user", network="blue", socket="/run/inception/ivm1.sock",
            mode="client", queues=2, macs=["52:54:00:00:00:01"], ips=["192.0.2.1", "198.51.100.0/28"]),
        req("port.add", name="k1", type="kernel", network="blue", port_security=False, mac_limit=4),
        req("fdb.add", network="blue", mac="52:54:00:00:00:02", port="ivm1"),
        req("fdb.del", network="blue", mac="52:54:00:00:00:02"), req("port.del", name="ivm1")])
    s["malformed"] = "\n".join([
        "{", "[]", "null", '{"version":2,"command":"stats"}', '{"version":1}', '{"version":1,"command":42}',
        '{"version":1,"command":"network.add","args":{"name":"x"}}',
        '{"version":1,"command":"network.add","args":{"name":"x","vni":-1}}',
        '{"version":1,"command":"network.add","args":{"name":"x","vni":1,"peers":[1,2]}}',
        '{"version":1,"command":"nat.sessions","args":{"limit":"all"}}', '"\\u00e9t\\u00e9"'])
    return s


def config_seeds():
    s = {}
    with open(os.path.join(HERE, "..", "..", "config", "inceptiond.toml"), "rb") as f:
        s["shipped-example"] = f.read().decode()
    s["empty"] = ""
    s["gateway-rvm"] = """
[dpdk]
main_core = 0
worker_cores = [1]
memory_mb = 1024
mbufs = 32768
file_prefix = "gw"
extra_args = ["--vdev=net_null9"]

[switch]
mac_aging_s = 60
idle_policy = "poll"
log_level = "debug"
port_mac_limit = 16
flood_pps_per_port = 0

[control]
socket = "/run/inception/gw.sock"

[metrics]
enabled = true
listen = "0.0.0.0:9417"

[underlay]
device = "net_af_packet0,iface=eth1"
address = "10.0.0.11/24"
gateway = "10.0.0.1"
mtu = 9000
vxlan_port = 4789
host_interface = "inc-host"
neighbor_timeout_s = 60

[[neighbor]]
ip = "10.0.0.1"
mac = "02:00:00:00:00:01"

[[router]]
network = "private"
address = "192.0.2.254/24"

[[router]]
network = "public"
address = "198.51.100.201/24"

[nat]
public_network = "public"
snat_address = "10.0.0.100"
snat_ports = "20000-29999"
max_sessions = 4096
max_sessions_per_network = 1024
max_sessions_per_source = 64
egress_deny = ["192.168.0.0/16", "172.16.0.1"]
udp_timeout_s = 30

[[gateway_mapping]]
underlay = "10.0.0.20"
public = "203.0.113.10"

[[fip]]
public = "203.0.113.10"
fixed = "192.0.2.10"
network = "private"

[[network]]
name = "private"
vni = 1001
peers = ["10.0.0.12", "10.0.0.13"]
hub = true

[[network]]
name = "public"
vni = 1002
fdb_limit = 512
peers = ["10.0.0.12"]
neighbor_limit = 64

[[port]]
name = "ivm1"
type = "vhost-user"
network = "private"
socket = "/run/inception/ivm1.sock"
mode = "server"
queues = 2
macs = ["52:54:00:00:00:01", "52:54:00:00:00:11"]
ips = ["192.0.2.10", "198.51.100.16/28"]
mac_limit = 8

[[port]]
name = "eth1p"
type = "kernel"
network = "public"
port_security = false

[[fdb]]
network = "public"
mac = "02:00:00:00:00:42"
port = "eth1p"
"""
    s["errors"] = """
[dpdk]
worker_cores = [1, 1]
[switch]
idle_policy = "sometimes"
unknown = 1
[[network]]
name = "bad name!"
vni = 16777216
"""
    s["inline-and-dotted"] = """
dpdk = { main_core = 2, worker_cores = [3, 4] }
switch.log_level = "warning"
network = [ { name = "a", vni = 1 }, { name = "b", vni = 2, peers = [] } ]
"""
    return s


TARGETS = {
    "bridge": bridge_seeds,
    "underlay": underlay_seeds,
    "router": router_seeds,
    "arp": arp_seeds,
    "translate": translate_seeds,
    "icmp_error": icmp_error_seeds,
    "coalesce": coalesce_seeds,
    "control": control_seeds,
    "config": config_seeds,
}


def main():
    out = os.path.join(HERE, "corpus") if len(sys.argv) < 2 else sys.argv[1]
    for target, seeds in TARGETS.items():
        directory = os.path.join(out, target)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        for name, data in seeds().items():
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)


if __name__ == "__main__":
    main()
