#!/usr/bin/env bash
# bench/chunks.sh: sequential write and cold read through two kmsfs mounts
# side by side, one volume per chunk size, in interleaved rounds, printing
# MB/s and each FUSE server's CPU time per MiB (user+system, from
# /proc/PID/stat). It compares chunk sizes within one run, so that other
# load on the machine falls on both alike (bench/mount.sh takes one chunk
# size per run).
#
# Usage: bench/chunks.sh [--rounds N] [--mib N] [--dir DIR] [CHUNK_SIZE...]
#   default: 4 rounds of 256 MiB (dd bs=128k conv=fsync, then a cold
#   dd bs=128k read) on 65536 and 16384, in /var/tmp
#
# Run as root: it mounts and drops the page cache. Numbers are never
# asserted. Everything it mounts is unmounted on exit, also on failure.
set -Eeuo pipefail
export LC_ALL=C

ROUNDS=4 MIB=256 BASE=/var/tmp
SIZES=()
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift ;;
	--mib) MIB=$2; shift ;;
	--dir) BASE=$2; shift ;;
	-h | --help) sed -n '2,/^set -Eeuo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "chunks.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	*) SIZES+=("$1") ;;
	esac
	shift
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(65536 16384)
[ "$(id -u)" = 0 ] || { echo "chunks.sh: run as root: it mounts and drops caches" >&2; exit 1; }
REPO=$(cd "$(dirname "$0")/.." && pwd)

WORK=$(mktemp -d "$BASE/kmsfs-chunks.XXXXXX")
MOUNTS=()
cleanup() {
	local rc=$? m
	trap - EXIT
	for m in "${MOUNTS[@]}"; do
		mountpoint -q "$m" && { fusermount3 -u "$m" || fusermount3 -u -z "$m"; }
	done
	sleep 1
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT

(cd "$REPO" && go build -o "$WORK/kmsfs" ./cmd/kmsfs)
export KMSFS_KEYRING=$WORK/keyring KMSFS_PASSPHRASE="chunks-$RANDOM-$RANDOM"
declare -A PID
for c in "${SIZES[@]}"; do
	"$WORK/kmsfs" init --chunk-size "$c" "$WORK/c$c" >/dev/null
	mkdir "$WORK/m$c"
	MOUNTS+=("$WORK/m$c")
	"$WORK/kmsfs" mount --log "$WORK/log$c" "$WORK/c$c" "$WORK/m$c"
	PID[$c]=$(pgrep -f -- "mount -f .*$WORK/c$c $WORK/m$c\$" | head -n 1)
done

ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
T=$(getconf CLK_TCK)
printf '%s, %s CPUs, kernel %s, %s MiB per step, dd bs=128k\n' \
	"$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(nproc)" "$(uname -r)" "$MIB"
for ((r = 1; r <= ROUNDS; r++)); do
	for c in "${SIZES[@]}"; do
		drop
		a=$(ticks "${PID[$c]}") t0=$EPOCHREALTIME
		dd if=/dev/zero of="$WORK/m$c/f" bs=128k count=$((MIB * 8)) conv=fsync status=none
		t1=$EPOCHREALTIME b=$(ticks "${PID[$c]}")
		drop
		t2=$EPOCHREALTIME
		dd if="$WORK/m$c/f" of=/dev/null bs=128k status=none
		t3=$EPOCHREALTIME d=$(ticks "${PID[$c]}")
		rm "$WORK/m$c/f"
		awk -v r="$r" -v c="$c" -v n="$MIB" -v T="$T" -v a="$a" -v b="$b" -v d="$d" \
			-v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" 'BEGIN {
			printf "round %d  chunk %7d  write %7.1f MB/s %5.2f ms CPU/MiB  read %7.1f MB/s %5.2f ms CPU/MiB\n",
				r, c, n * 1.048576 / (t1 - t0), (b - a) / T * 1000 / n, n * 1.048576 / (t3 - t2), (d - b) / T * 1000 / n }'
	done
done
