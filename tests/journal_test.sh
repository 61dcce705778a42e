#!/usr/bin/env bash
# inceptiond's logs under systemd: structured journal entries, at the real
# socket path (/run/systemd/journal/socket) of a private mount namespace
# where this test's receiver stands in for journald; stderr otherwise.
#   1. stderr is the journal's stream (JOURNAL_STREAM names it, as systemd
#      sets it): the start, a network added and deleted with inceptionctl
#      and the stop arrive as datagrams with MESSAGE, PRIORITY,
#      SYSLOG_IDENTIFIER, INCEPTION_OBJECT and INCEPTION_EVENT, and none of
#      them as a line on stderr;
#   2. stderr redirected to a file (no JOURNAL_STREAM): the lines are in the
#      file and the journal gets nothing.
#
#   tests/journal_test.sh        (meson test journal; INCEPTIOND, INCEPTIONCTL)
set -euo pipefail
: "${INCEPTIOND:?}" "${INCEPTIONCTL:?}"
fail() { echo "journal test: $*" >&2; exit 1; }

if [ "${1:-}" != --inside ]; then
  dir=$(mktemp -d /tmp/inception-journal-XXXXXX)
  trap 'rm -rf "$dir"' EXIT
  # The mount of /run/systemd and every process started inside go with the
  # namespace; the script inside stops what it starts.
  unshare --mount --propagation private -- "$0" --inside "$dir"
  exit $?
fi

dir=$2
unset JOURNAL_STREAM  # set below only for the switch that should see it
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/journal
prefix="${INCEPTION_NS_PREFIX:-inct}-journal"
receiver='' switch=''
stop() {
  if [ -n "$switch" ] && kill -0 "$switch" 2>/dev/null; then
    kill -TERM "$switch"
    for _ in $(seq 1 50); do kill -0 "$switch" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$switch" 2>/dev/null && kill -KILL "$switch"
  fi
  [ -z "$receiver" ] || kill "$receiver" 2>/dev/null || true
  rm -rf "/var/run/dpdk/$prefix"
}
trap stop EXIT

# journald's side of the native protocol: one datagram per entry, fields
# KEY=value or KEY\n<u64 le length><bytes>\n; one JSON object per line.
python3 - /run/systemd/journal/socket "$dir/entries" <<'PY' &
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w") as out:
    while True:
        data, fields = s.recv(65536), {}
        while data:
            line, _, rest = data.partition(b"\n")
            if b"=" in line:
                key, _, value = line.partition(b"=")
                data = rest
            else:
                key, (size,) = line, struct.unpack("<Q", rest[:8])
                value, data = rest[8:8 + size], rest[8 + size + 1:]
            fields[key.decode()] = value.decode()
        out.write(json.dumps(fields) + "\n")
        out.flush()
PY
receiver=$!
for _ in $(seq 1 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
[ -S /run/systemd/journal/socket ] || fail "the stand-in journal did not bind its socket"

cat > "$dir/switch.toml" <<TOML
[dpdk]
main_core = 0
worker_cores = [1]
memory_mb = 256
hugepages = false
file_prefix = "$prefix"
[control]
socket = "$dir/ctl.sock"
[metrics]
enabled = false
TOML
ctl() { "$INCEPTIONCTL" --socket "$dir/ctl.sock" "$@"; }
# Starts the switch with stderr to $1, runs a network's life, stops it.
run_switch() {
  local log=$1
  rm -f "$dir/ctl.sock"
  "$INCEPTIOND" --config "$dir/switch.toml" 2> "$log" &
  switch=$!
  for _ in $(seq 1 300); do
    ctl network list >/dev/null 2>&1 && break
    kill -0 "$switch" 2>/dev/null || fail "inceptiond exited: $(tail -5 "$log")"
    sleep 0.1
  done
  ctl network add lab --vni 3001 >/dev/null || fail "network add: $(tail -3 "$log")"
  ctl network del lab >/dev/null || fail "network del: $(tail -3 "$log")"
  kill -TERM "$switch"
  wait "$switch" || fail "inceptiond did not stop cleanly: $(tail -3 "$log")"
  switch=
}

# 1. Under systemd: stderr is the stream JOURNAL_STREAM names.
: > "$dir/stderr-journal"
JOURNAL_STREAM=$(stat -c %d:%i "$dir/stderr-journal") run_switch "$dir/stderr-journal"
for _ in $(seq 1 50); do grep -q '"INCEPTION_EVENT": "stopped"' "$dir/entries" && break; sleep 0.1; done
python3 - "$dir/entries" <<'PY' || fail "journal entries: $(cat "$dir/entries")"
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1])]
def find(obj, event):
    hits = [e for e in entries if e.get("INCEPTION_OBJECT") == obj and e.get("INCEPTION_EVENT") == event]
    assert hits, f"no entry with INCEPTION_OBJECT={obj!r} INCEPTION_EVENT={event!r}"
    return hits[0]
ready = find("inceptiond", "ready")
assert ready["MESSAGE"].startswith("inceptiond ") and " ready: " in ready["MESSAGE"], ready
assert ready["PRIORITY"] == "6" and ready["SYSLOG_IDENTIFIER"] == "inceptiond", ready
added = find("network lab", "added")
assert added["MESSAGE"].startswith("network lab: added (VNI 3001"), added
assert find("network lab", "deleted")["MESSAGE"] == "network lab: deleted"
find("inceptiond", "stopping")
find("inceptiond", "stopped")
PY
! grep -q "network lab: added" "$dir/stderr-journal" ||
  fail "with stderr the journal's stream, lines still went to stderr: $(cat "$dir/stderr-journal")"

# 2. stderr redirected to a file, no JOURNAL_STREAM: lines there, none in
# the journal.
entries_before=$(wc -l < "$dir/entries")
run_switch "$dir/stderr-file"
grep -q " info    network lab: added (VNI 3001" "$dir/stderr-file" ||
  fail "stderr to a file has no line for the network: $(cat "$dir/stderr-file")"
# Whatever the switch sent is queued before this marker: once the marker is
# read, the entries are complete.
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"MESSAGE=marker\n", sys.argv[1])' \
  /run/systemd/journal/socket
for _ in $(seq 1 50); do grep -q '"MESSAGE": "marker"' "$dir/entries" && break; sleep 0.1; done
[ "$(wc -l < "$dir/entries")" = "$((entries_before + 1))" ] ||
  fail "with stderr to a file, entries still went to the journal: $(tail -n +$((entries_before + 1)) "$dir/entries")"
echo "journal test: structured entries under systemd, stderr otherwise: OK"
