#!/usr/bin/env bash
# bench/chunks.sh: sequential write and cold read, and 4 KiB random reads
# and writes, through kmsfs mounts side by side, one volume per chunk size,
# in interleaved rounds, printing MB/s or IOPS and each FUSE server's CPU
# time per MiB or per request (user+system, from /proc/PID/stat). It
# compares chunk sizes within one run, so that other load on the machine
# falls on all alike (bench/mount.sh takes one chunk size per run).
#
# Usage: bench/chunks.sh [--rounds N] [--mib N] [--fio SECS] [--dir DIR] [CHUNK_SIZE...]
#   default: 4 rounds of 256 MiB (dd bs=128k conv=fsync, then a cold
#   dd bs=128k read), then fio 4k O_DIRECT psync random reads and writes
#   on that file at queue depths 1 and 4 (1 and 4 jobs), 3 s each
#   (--fio 0 or no fio skips them), on 65536, 16384 and 4096, in /var/tmp
#
# Run as root: it mounts and drops the page cache. Numbers are never
# asserted. Everything it mounts is unmounted on exit, also on failure.
set -Eeuo pipefail
export LC_ALL=C

ROUNDS=4 MIB=256 BASE=/var/tmp FIO_SECS=3
SIZES=()
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift ;;
	--mib) MIB=$2; shift ;;
	--fio) FIO_SECS=$2; shift ;;
	--dir) BASE=$2; shift ;;
	-h | --help) sed -n '2,/^set -Eeuo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "chunks.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	*) SIZES+=("$1") ;;
	esac
	shift
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(65536 16384 4096)
command -v fio >/dev/null || FIO_SECS=0
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

# rand C RW JOBS: fio 4k O_DIRECT requests on chunk size C's file from JOBS
# processes (queue depth JOBS); prints IOPS and the server's CPU per
# request. Terse v3 fields: 6/8 = read KiB/IOPS, 47/49 = write KiB/IOPS.
rand() {
	local kf=6 f=8 out a b
	[ "$2" = randwrite ] && kf=47 f=49
	a=$(ticks "${PID[$1]}")
	out=$(fio --name=chunks --filename="$WORK/m$1/f" --size="${MIB}m" --rw="$2" --bs=4k \
		--direct=1 --ioengine=psync --numjobs="$3" --group_reporting --iodepth=1 --fallocate=none \
		--runtime="$FIO_SECS" --time_based --randrepeat=1 --output-format=terse --terse-version=3)
	b=$(ticks "${PID[$1]}")
	awk -F';' -v r="$r" -v c="$1" -v rw="$2" -v j="$3" -v f="$f" -v kf="$kf" -v T="$T" -v a="$a" -v b="$b" 'NR == 1 {
		printf "round %d  chunk %7d  %-9s qd%d %7.0f IOPS %6.1f us CPU/op\n",
			r, c, rw, j, $f, (b - a) / T * 1e6 / ($kf / 4) }' <<<"$out"
}
T=$(getconf CLK_TCK)
printf '%s, %s CPUs, kernel %s, %s MiB per step, dd bs=128k, fio %s s per step\n' \
	"$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(nproc)" "$(uname -r)" "$MIB" "$FIO_SECS"
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
		awk -v r="$r" -v c="$c" -v n="$MIB" -v T="$T" -v a="$a" -v b="$b" -v d="$d" \
			-v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" 'BEGIN {
			printf "round %d  chunk %7d  write %7.1f MB/s %5.2f ms CPU/MiB  read %7.1f MB/s %5.2f ms CPU/MiB\n",
				r, c, n * 1.048576 / (t1 - t0), (b - a) / T * 1000 / n, n * 1.048576 / (t3 - t2), (d - b) / T * 1000 / n }'
		if [ "$FIO_SECS" -gt 0 ]; then
			for rw in randread randwrite; do
				for j in 1 4; do
					rand "$c" "$rw" "$j"
				done
			done
		fi
		rm "$WORK/m$c/f"
	done
done
