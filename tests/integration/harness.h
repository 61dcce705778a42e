// Test harness for integration tests: real processes (inceptiond, its CLI,
// virtio-user peers, QEMU), temporary directories, network namespaces.
//
// Every process a test starts is stopped by PID when its owner object goes
// out of scope (SIGTERM, then SIGKILL after a grace period); every namespace
// is deleted the same way, so a failing assertion leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace inception::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Paths of the binaries under test, passed by meson in the environment.
std::string binary(const char* env_name);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv to completion (killing it after `timeout`).
CommandResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s);
// Runs a shell command line; for ip/ping/ethtool plumbing.
CommandResult sh(const std::string& command, std::chrono::milliseconds timeout = 60s);

// Polls `condition` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s,
                std::chrono::milliseconds period = 50ms);

// A shell fragment that waits (up to 10 s) until something in the current
// network namespace listens on `port` ("tcp" or "udp"): servers started in
// the background must be bound before a client tries them.
std::string wait_for_listener(const std::string& protocol, int port);

// A shell command that sends `payload` (and a newline) in one UDP datagram
// to host:port, from `source_port` (0: any), and prints the first answer,
// or fails with the reason on stderr ("Connection refused" for an ICMP port
// unreachable, "no answer within Ns"). It ends at the first answer: socat
// as a UDP client gives up 0.5 s after its input ends, which a loaded host
// can miss.
std::string udp_exchange(const std::string& host, int port, const std::string& payload, int source_port = 0,
                         int wait_seconds = 5);

class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process with a line-oriented stdout and (optionally) a stdin pipe.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& stderr_path, bool capture_stdout = true);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void write_line(const std::string& line);
  // Next stdout line, or nullopt after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Every line read so far that has not been consumed by read_line.
  std::vector<std::string> drain_lines();
  // Sends `signal` and waits for exit; returns the exit status (128+signal if
  // killed), or -1 if it had to be SIGKILLed after `timeout`.
  int stop(int signal = 15, std::chrono::milliseconds timeout = 15s);

 private:
  void reader();
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::optional<int> exit_status_;
  std::thread reader_thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  bool eof_ = false;
};

// Free 2 MB hugepages (HugePages_Free in /proc/meminfo).
unsigned free_hugepages();

// A free TCP port on 127.0.0.1 (bound and released; good enough for tests
// that run one at a time).
int free_tcp_port();

// GET http://127.0.0.1:port/path; returns the body, empty on failure.
std::string http_get(int port, const std::string& path);

// Lines from a stream socket: bytes are kept until a newline completes a
// line. For UnixClient and the guests' socket consoles.
struct SocketLines {
  std::string received;
  size_t received_bytes = 0;
  bool eof = false;
  // The next line from `fd` (without its newline); nullopt once the peer
  // has closed and every line was read, or after `timeout`.
  std::optional<std::string> next(int fd, std::chrono::milliseconds timeout);
};

// A raw connection to a unix stream socket, for tests that speak the control
// protocol by hand or misbehave on purpose (slow, silent, oversized, not
// UTF-8). Closed on destruction.
class UnixClient {
 public:
  // Connects, waiting at most `timeout` while the server's backlog is full.
  // Throws std::runtime_error on failure.
  explicit UnixClient(const std::string& path, std::chrono::milliseconds timeout = 2s);
  ~UnixClient();
  UnixClient(const UnixClient&) = delete;
  UnixClient& operator=(const UnixClient&) = delete;

  // Sends `bytes` until all are gone, the server answers or closes, or
  // `timeout` passes; returns how many were sent.
  size_t send(std::string_view bytes, std::chrono::milliseconds timeout = 5s);
  // No more requests from this side (shutdown(SHUT_WR)).
  void shut_write();
  // The next line the server sends (without its newline); nullopt if it
  // closes first or `timeout` passes.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 5s);
  // True once the server has closed its end, false after `timeout`. Reads
  // nothing: what the server sent before closing is left for read_line.
  bool wait_closed(std::chrono::milliseconds timeout);
  // Bytes read from the server so far.
  size_t received_bytes() const { return lines_.received_bytes; }

 private:
  int fd_ = -1;
  SocketLines lines_;
};

// Sends `bytes` as they are on a new connection to `socket`; returns the
// reply line, or nullopt if none came within 5 s.
std::optional<std::string> raw_request(const std::string& socket, std::string_view bytes);

// How many descriptors process `pid` has open (/proc/PID/fd).
size_t open_fds(pid_t pid);

// One HTTP/1.1 exchange as curl makes it (no "Connection: close" from us),
// read until the server closes, the body is complete or `timeout` passes.
// The request is sent `request_delay` after the connection is up, as a
// scraper across a network or a busy one would. `status` is 0 when no status
// line came back (an empty reply); `error` says why.
struct HttpReply {
  int status = 0;
  std::string headers;
  std::string body;
  std::string error;
};
HttpReply http_fetch(int port, const std::string& path, std::chrono::milliseconds request_delay = 0ms,
                     std::chrono::milliseconds timeout = 5s);

// inceptiond under test, with its own socket, file prefix and metrics port.
class Daemon {
 public:
  // `body` is appended to a [dpdk]/[control]/[metrics] preamble written by
  // the harness (worker on core 1; no hugepages unless asked, as in
  // production, for a test that times start-up).
  // `switch_settings`: lines for the [switch] table (the harness opens it).
  // `workers`: worker lcores (see worker_lcores_settings).
  Daemon(const TempDir& dir, const std::string& body, const std::string& name = "inceptiond", bool hugepages = false,
         const std::string& switch_settings = "", unsigned workers = 1);
  ~Daemon();
  bool wait_ready(std::chrono::milliseconds timeout = 30s);
  // Waits until the switch sees a guest on every port (rte_vhost finished
  // negotiating): frames sent before that are lost.
  bool wait_links_up(std::chrono::milliseconds timeout = 10s);
  CommandResult ctl(const std::vector<std::string>& args);
  nlohmann::json ctl_json(const std::vector<std::string>& args);
  int stop();
  // Starts it again on the same config (after stop()).
  void restart();
  const std::string& socket() const { return socket_; }
  const std::string& config_path() const { return config_path_; }
  int metrics_port() const { return metrics_port_; }
  std::string log() const;
  Process& process() { return *process_; }

 private:
  std::string name_;
  std::string config_path_;
  std::string socket_;
  std::string log_path_;
  int metrics_port_;
  std::unique_ptr<Process> process_;
};

// A TCP/IPv4 frame as the peer's receiving side checked it.
struct TcpSegment {
  uint32_t seq = 0;
  uint32_t length = 0;   // payload bytes
  std::string checksum;  // "ok", "bad", or "partial" (left to the receiver, virtio-net NEEDS_CSUM)
  unsigned gso = 0;      // a super-frame's MSS (virtio-net GSO), 0 for an ordinary frame
  bool data_ok = false;  // the payload is the sendtcp pattern for its sequence numbers
};

struct Frame {
  std::string dst, src, ether_type;
  unsigned bytes = 0;
  std::string tag;  // "tcp" for TCP/IPv4 frames, with `tcp` set
  std::string hex;  // the whole frame, after VportPeer::show_bytes()
  std::optional<TcpSegment> tcp;
};

// inception-vport-peer: a virtio-user NIC on one vhost-user socket.
class VportPeer {
 public:
  // `offloads`: the peer uses TSO, checksum offload and LRO where the
  // switch offers them, as a Linux guest's virtio-net does.
  // `queues` > 1: the peer offers that many queue pairs (virtio-net MQ).
  VportPeer(const TempDir& dir, const std::string& socket, const std::string& name, bool server = false,
            bool offloads = false, unsigned queues = 1);
  bool wait_ready(std::chrono::milliseconds timeout = 30s);
  // Sends `count` frames; returns how many the switch took.
  unsigned send(const std::string& dst, const std::string& src, const std::string& tag, unsigned count = 1,
                const std::string& ether_type = "88b5", unsigned bytes = 60);
  // Sends `count` copies of a frame given in hex, byte for byte; returns how
  // many the switch took.
  unsigned send_hex(const std::string& hex, unsigned count = 1);
  // Sends `payload` bytes of TCP/IPv4 from SRC_IP:5001 to DST_IP:80
  // starting at `seq`: with offloads one TSO super-frame cut at `mss`,
  // without them `mss`-byte segments in one burst; with `mss` 0 one
  // ordinary frame. Returns how many frames the switch took.
  unsigned send_tcp(const std::string& dst, const std::string& src, const std::string& src_ip,
                    const std::string& dst_ip, uint32_t payload, uint16_t mss, uint32_t seq = 1000000);
  // Sends `count` frames over `flows` flows tagged NAME.F.k (k counts on
  // across calls), each flow on the TX queue of its hash; returns how many
  // the switch took.
  unsigned send_flows(const std::string& dst, const std::string& src, const std::string& name, unsigned flows,
                      unsigned count);
  // Reconfigures the peer to `queues` queue pairs (stop, configure, start);
  // returns its answer: "queues N" when done, else why not.
  std::string set_queues(unsigned queues);
  // No rx line per frame from now on (for streams; sequence_stats counts).
  void quiet();
  struct SequenceStats {
    uint64_t frames = 0;              // NAME.F.k frames received
    uint64_t reordered = 0;           // with a k not above their flow's last
    uint64_t missing = 0;             // ks skipped
    std::vector<uint64_t> per_queue;  // frames of any kind received, per RX queue
  };
  SequenceStats sequence_stats();
  // The TCP frames received so far (after pumping for `window`).
  std::vector<TcpSegment> tcp_segments(std::chrono::milliseconds window = 0ms);
  // From now on, frames received carry their bytes (Frame::hex).
  void show_bytes();
  // Every frame received so far (after pumping for `window`).
  const std::vector<Frame>& frames(std::chrono::milliseconds window = 0ms);
  // Frames received with `tag`, collected for `window`.
  std::vector<Frame> received(const std::string& tag, std::chrono::milliseconds window = 500ms);
  // Waits for at least `count` frames with `tag` (all frames read are kept),
  // looking every `poll`.
  bool wait_for(const std::string& tag, unsigned count = 1, std::chrono::milliseconds timeout = 10s,
                std::chrono::milliseconds poll = 20ms);
  size_t count(const std::string& tag);
  Process& process() { return process_; }

 private:
  void pump(std::chrono::milliseconds timeout);
  unsigned await_sent();
  // The next line starting with `prefix` (frames received meanwhile are kept).
  std::optional<std::string> await_line(const std::string& prefix);
  Process process_;
  std::vector<Frame> frames_;
};

// A Linux stack's TCP counters (/proc/net/snmp) in network namespace
// `netns`: segments received, and those refused as erroneous or for their
// checksum.
struct TcpStackCounters {
  uint64_t in_segs = 0, in_errs = 0, in_csum_errors = 0;
};
TcpStackCounters tcp_counters(const std::string& netns);

// The element of a JSON list (port list, stats ports, ...) whose "name" is
// `name`, or null: a copy, so an EXPECT on a field of a missing element
// fails instead of passing because the loop that held it never ran.
nlohmann::json named(const nlohmann::json& list, const std::string& name);

// Prefix of every network namespace and root-namespace interface a test
// creates: INCEPTION_NS_PREFIX (at most 6 characters, so interface names
// stay within 15), default "inct". Two checkouts running the suites at once
// give each its own.
std::string ns_prefix();

// [dpdk] settings for a daemon with `workers` worker lcores (1..workers,
// main lcore 0), as the harness' Daemon preamble writes them: with fewer
// CPUs than lcores an --lcores map puts several workers on one CPU.
std::string worker_lcores_settings(unsigned workers);

// scripts/topology.sh: N rVMs (network namespaces running inceptiond with a
// VXLAN underlay on a shared management bridge), torn down on destruction.
class Topology {
 public:
  // `settings` are topology.sh's --set SECTION.KEY=VALUE: extra TOML for every rVM.
  // `later`: the last `later` rVMs are prepared but not started (start()).
  // `second_dc`: the last `second_dc` rVMs are in a second reality cloud
  // (topology.sh --dc2).
  Topology(const TempDir& dir, int rvms, const std::string& mode = "mesh", bool ivms = true, bool nat = false,
           const std::vector<std::string>& settings = {}, int later = 0, int second_dc = 0);
  ~Topology();
  bool up() const { return up_; }
  const std::string& output() const { return output_; }
  CommandResult ctl(int rvm, const std::vector<std::string>& args) const;
  nlohmann::json ctl_json(int rvm, const std::vector<std::string>& args) const;
  std::string rvm_ns(int rvm) const { return ns("rvm" + std::to_string(rvm)); }
  std::string ivm_ns(int rvm, const std::string& network) const {
    return ns("ivm" + std::to_string(rvm) + "-" + network);
  }
  // A namespace of the topology by its short name ("client", "server",
  // "reality", "mgmt", and with a second data center "reality2", "mgmt2").
  std::string ns(const std::string& name) const { return ns_prefix() + "-" + name; }
  CommandResult in(const std::string& ns, const std::string& command, std::chrono::milliseconds timeout = 60s) const;
  std::string log(int rvm) const;
  // topology.sh start: starts rVM `rvm` (prepared with `later`, or whose
  // switch died) with its host address and iVM ports; false if it fails.
  bool start(int rvm) const;
  // The PID of rVM `rvm`'s inceptiond (topology.sh's pid file).
  pid_t pid(int rvm) const;

 private:
  std::string dir_;
  bool up_ = false;
  std::string output_;
};

// A network namespace, deleted on destruction.
class Netns {
 public:
  explicit Netns(const std::string& name);
  ~Netns();
  const std::string& name() const { return name_; }
  CommandResult exec(const std::string& command, std::chrono::milliseconds timeout = 60s) const;

 private:
  std::string name_;
};

// A Linux VXLAN endpoint (10.0.0.20, VNI 1001, toward the rVM 10.0.0.11) in
// `vtep`, on the topology's management bridge, with a host (192.0.2.20, MTU
// 1450) in `host` behind it through a Linux bridge. TX checksum offload is
// off on the veths: the switch's packet socket would see partial checksums.
// `tag` (a letter) keeps the interface names of two such sets apart; the
// host's interface is NS_PREFIX-TAGh.
// Returns what failed, "" if nothing did.
std::string add_kernel_vtep(const Topology& topology, const Netns& vtep, const Netns& host, const std::string& tag);

}  // namespace inception::test
