#!/usr/bin/env bash
# The voice flow's figures for BENCHMARKS.md ("voice: call flow"): call
# rate through the whole flow with a durable call record and callback per
# call, and callers on hold (send jitter, memory per call). Each line is
# one flowbench run (see bench/voice/flowbench/main.go); a run counts only
# with zero failed calls and one stored callback per call.
#
#   bench/voice/flow.sh
#
# Needs sipp (Debian package sip-tester). Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v sipp >/dev/null || { echo "sipp not found: apt-get install sip-tester" >&2; exit 2; }
bin=$(mktemp -d)/flowbench
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/voice/flowbench

echo "== call rate (each caller stays 1 s)"
for rate in 500 1000 2500; do
	"$bin" -rate "$rate" -calls $((rate * 6)) -limit 5000 -hold 1s
done
echo "== callers on hold"
"$bin" -rate 100 -calls 500 -limit 3000 -hold 20s
"$bin" -rate 200 -calls 2000 -limit 3000 -hold 30s
