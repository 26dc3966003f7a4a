#!/usr/bin/env bash
# Call rate of the SIP edge: SIPp's uac scenario (bench/sip/uac.xml: the
# built-in one with each response matched to its request; INVITE, 100,
# 200, ACK, BYE, 200; no media) against bench/sip/answerer, which answers
# every call and allocates its RTP leg. Prints SIPp's totals; a run counts
# only with zero failed calls and no call still up when SIPp is done (a
# call whose ACK or BYE the answerer never got). SIPp gets a 4 MiB socket
# buffer (its 64 KiB default dropped responses at these rates).
#
#   bench/sip/callrate.sh [RATE] [CALLS] [LIMIT]
#
# RATE calls/s offered (default 1000), CALLS in total (default 20000),
# LIMIT concurrent calls at most (default 2000). Needs sipp (Debian
# package sip-tester). Traffic stays on 127.0.0.1.
set -euo pipefail

rate=${1:-1000}
calls=${2:-20000}
limit=${3:-2000}

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill "$server_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

command -v sipp >/dev/null || { echo "sipp not found: apt-get install sip-tester" >&2; exit 2; }
(cd "$here/../.." && go build -o "$work/answerer" ./bench/sip/answerer)

"$work/answerer" -addr 127.0.0.1:0 >"$work/addr" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/addr" ] && break; sleep 0.1; done
addr=$(head -1 "$work/addr")
[ -n "$addr" ] || { echo "answerer did not start" >&2; cat "$work/server.log" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start=$(date +%s.%N)
sipp -sf "$here/uac.xml" -buff_size 4194304 -r "$rate" -m "$calls" -l "$limit" -i 127.0.0.1 -p "$port" \
	-timeout 300s -nostdin -trace_stat -stf "$work/stat.csv" -fd 1 \
	"$addr" >"$work/sipp.out" 2>&1 || true
end=$(date +%s.%N)

# The last line of the statistics file holds the cumulative counters.
python3 - "$work/stat.csv" "$start" "$end" "$rate" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
head, last = rows[0], rows[-1]
col = lambda name: last[head.index(name)]
ok, failed = int(col("SuccessfulCall(C)")), int(col("FailedCall(C)"))
secs = float(sys.argv[3]) - float(sys.argv[2])
print(f"offered {sys.argv[4]} calls/s: {ok} successful, {failed} failed in {secs:.1f} s "
      f"= {ok/secs:.0f} calls/s; response time avg {col('ResponseTime1(C)')}")
PY
kill -INT "$server_pid"
wait "$server_pid" 2>/dev/null || true
tail -2 "$work/server.log"
grep -q '^calls still up when stopped: 0$' "$work/server.log" || { echo "THIS RUN DOES NOT COUNT: calls were still up" >&2; exit 1; }
