#!/usr/bin/env bash
# bench/mount.sh: throughput and metadata benchmark of a real kmsfs mount,
# against a plain directory on the same backing filesystem (and gocryptfs,
# with --peers), in one run, printing absolute numbers and ratios. Random
# 4k I/O runs at queue depths 1 and 4 (fio psync, 1 and 4 jobs), and its
# "cpu" rows give the FUSE server's CPU time (user+system, from
# /proc/PID/stat) per request: lower is better, and other load on the
# machine disturbs it less than IOPS.
#
# Usage: bench/mount.sh [--quick] [--peers] [--dir DIR] [--chunk-size BYTES] [--plaintext-names]
#   --quick   256 MiB instead of 1 GiB, 3 s instead of 10 s per fio run (~2-5 min)
#   --peers   also measure gocryptfs (installed from Debian if missing)
#   --dir     where the temporary directories go (default /var/tmp); its
#             filesystem is the backing filesystem of every target
#   --chunk-size, --plaintext-names
#             passed to kmsfs init, to measure other volume settings
#
# Run as root: it mounts, drops the page cache (echo 3 > drop_caches) and
# installs missing Debian packages with apt-get (fio, optional; gocryptfs
# with --peers; fuse3). Semantics follow gocryptfs' canonical benchmarks:
# dd bs=128k conv=fsync writes, cold-cache reads, untar, ls -lR, rm -rf.
# Numbers are never asserted: the script fails only when a command fails.
# Everything it mounts is unmounted on exit, also on failure or Ctrl-C.
set -Eeuo pipefail
export LC_ALL=C # EPOCHREALTIME and printf use '.' as the decimal point

ARGV="$*"
QUICK=0
PEERS=0
BASE=/var/tmp
INIT_ARGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--peers) PEERS=1 ;;
	--dir)
		[ $# -ge 2 ] || { echo "mount.sh: --dir needs a directory" >&2; exit 2; }
		BASE=$2
		shift
		;;
	--chunk-size)
		[ $# -ge 2 ] || { echo "mount.sh: --chunk-size needs a size in bytes" >&2; exit 2; }
		INIT_ARGS+=(--chunk-size "$2")
		shift
		;;
	--plaintext-names) INIT_ARGS+=(--plaintext-names) ;;
	-h | --help)
		sed -n '2,/^set -Eeuo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) echo "mount.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

if [ "$QUICK" = 1 ]; then
	SEQ_MIB=256 FIO_SECS=3 FIO_MIB=128
else
	SEQ_MIB=1024 FIO_SECS=10 FIO_MIB=256
fi
NDIRS=100 NFILES=100 # 10,000 small files

PROG=mount.sh
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root: it mounts, drops caches and may apt-get install"
command -v go >/dev/null || die "go is not in PATH"
START=$EPOCHREALTIME

# ---------------------------------------------------------------- packages

command -v fusermount3 >/dev/null || apt_install fuse3 || die "fuse3 is missing and could not be installed"
HAVE_FIO=1
command -v fio >/dev/null || apt_install fio || HAVE_FIO=0
[ "$HAVE_FIO" = 1 ] || log "mount.sh: fio unavailable: random 4k I/O is skipped"
if [ "$PEERS" = 1 ]; then
	command -v gocryptfs >/dev/null || apt_install gocryptfs || die "--peers: gocryptfs is missing and could not be installed"
fi

# ---------------------------------------------------------------- helpers

work_dir "$BASE" kmsfs-bench # unmounts and removes it on any exit

declare -A RES UNIT DIR PID
WORKLOADS=()
TARGETS=(plain kmsfs)

# workload NAME UNIT: declares a result row, in table order.
workload() { WORKLOADS+=("$1"); UNIT[$1]=$2; }

# record WORKLOAD TARGET VALUE
record() {
	RES["$1|$2"]=$3
	log "$(printf '  %-32s %-10s %10s %s' "$1" "$2" "$3" "${UNIT[$1]}")"
}

rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; } # MB/s

# ---------------------------------------------------------------- setup

build_kmsfs
mkdir "$WORK/plain"
DIR[plain]=$WORK/plain
DIR[kmsfs]=$WORK/kmsfs.mnt
mount_kmsfs "$WORK/kmsfs.cipher" "$WORK/kmsfs.mnt" "${INIT_ARGS[@]}"
PID[kmsfs]=$SERVER

if [ "$PEERS" = 1 ]; then
	TARGETS+=(gocryptfs)
	DIR[gocryptfs]=$WORK/gocryptfs.mnt
	mount_gocryptfs "$WORK/gocryptfs.cipher" "$WORK/gocryptfs.mnt"
	PID[gocryptfs]=$SERVER
fi

# ---------------------------------------------------------------- workloads
#
# Each step runs on every target before the next step starts, so slow
# drift (other work on the machine) spreads over all targets, and all
# deletions come last: on an ext4 without a journal, allocating inodes
# within 30 s of mass deletions is many times slower (recently_deleted()
# in the kernel), which would penalise whichever target came next.

# each STEP: runs "STEP TARGET DIR" for every target.
each() {
	local t
	for t in "${TARGETS[@]}"; do "$1" "$t" "${DIR[$t]}"; done
}

SEQ_BYTES=$((SEQ_MIB << 20))
W_SEQW="seq write ${SEQ_MIB} MiB"
W_SEQR="seq read ${SEQ_MIB} MiB (cold)"

seq_write() {
	drop_caches
	timed dd if=/dev/zero of="$2/seq.dat" bs=128k count=$((SEQ_BYTES / 131072)) conv=fsync status=none
	[ "$(stat -c %s "$2/seq.dat")" = "$SEQ_BYTES" ] || die "$1: seq.dat has the wrong size"
	record "$W_SEQW" "$1" "$(rate "$SEQ_BYTES" "$SECS")"
}

seq_read() {
	drop_caches
	timed dd if="$2/seq.dat" of=/dev/null bs=128k status=none
	record "$W_SEQR" "$1" "$(rate "$SEQ_BYTES" "$SECS")"
	rm "$2/seq.dat"
}

# fio_run DIR RW JOBS: fio 4k O_DIRECT requests from JOBS processes
# (queue depth JOBS, psync); sets IOPS and OPS (requests done). Terse v3
# fields: 6/8 = read KiB/IOPS, 47/49 = write KiB/IOPS (--group_reporting
# sums the jobs).
fio_run() {
	local kf=6 f=8 out
	[ "$2" = randwrite ] && kf=47 f=49
	out=$(fio --name=bench --filename="$1/fio.dat" --size="${FIO_MIB}m" --rw="$2" --bs=4k \
		--direct=1 --ioengine=psync --numjobs="$3" --group_reporting --iodepth=1 --fallocate=none \
		--runtime="$FIO_SECS" --time_based --randrepeat=1 --output-format=terse --terse-version=3)
	IOPS=$(awk -F';' -v f="$f" 'NR == 1 { printf "%.0f", $f }' <<<"$out")
	OPS=$(awk -F';' -v f="$kf" 'NR == 1 { printf "%.0f", $f / 4 }' <<<"$out")
}

# cpu_ticks TARGET: user+system CPU of TARGET's FUSE server in clock
# ticks, or nothing for a target without one (plain).
cpu_ticks() {
	local p=${PID[$1]:-}
	[ -n "$p" ] && [ -r "/proc/$p/stat" ] || return 0
	proc_ticks "$p"
}

# fio_step TARGET DIR RW JOBS: records IOPS and the server's CPU per request.
fio_step() {
	local w="rand $3 4k qd$4 (fio O_DIRECT)" c0 c1
	w=${w/randread/read}
	w=${w/randwrite/write}
	drop_caches
	c0=$(cpu_ticks "$1")
	fio_run "$2" "$3" "$4"
	c1=$(cpu_ticks "$1")
	record "$w" "$1" "$IOPS"
	if [ -n "$c0" ] && [ "$OPS" -gt 0 ]; then
		record "$w cpu" "$1" "$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" -v n="$OPS" 'BEGIN { printf "%.1f", (b - a) / t * 1e6 / n }')"
	fi
}

fio_layout() { dd if=/dev/zero of="$2/fio.dat" bs=1M count="$FIO_MIB" conv=fsync status=none; }
rand_read() { fio_step "$1" "$2" randread 1; }
rand_read4() { fio_step "$1" "$2" randread 4; }
rand_write() { fio_step "$1" "$2" randwrite 1; }
rand_write4() { fio_step "$1" "$2" randwrite 4; }
fio_clean() { rm "$2/fio.dat"; }

NSMALL=$((NDIRS * NFILES))
W_CREATE="create $NSMALL files"
W_STAT="stat $NSMALL files (cold)"
W_READDIR="readdir $NSMALL files (cold)"
W_RMSMALL="rm -rf $NSMALL files (cold)"

count_files() { find "$1" -type f | wc -l >"$WORK/count"; }

small_create() { timed make_files "$2/small" "$NDIRS" "$NFILES"; record "$W_CREATE" "$1" "$SECS"; }
small_stat() { drop_caches; timed stat_files "$2/small"; record "$W_STAT" "$1" "$SECS"; }
small_readdir() {
	drop_caches
	timed count_files "$2/small"
	[ "$(cat "$WORK/count")" = "$NSMALL" ] || die "$1: found $(cat "$WORK/count") files, want $NSMALL"
	record "$W_READDIR" "$1" "$SECS"
}
small_rm() { drop_caches; timed rm -rf "$2/small"; record "$W_RMSMALL" "$1" "$SECS"; }

# Go's source tree, archived once on the backing filesystem (outside every
# target) and read from the page cache by every untar.
TAR=$WORK/go-src.tar
tar -C "$(go env GOROOT)" -cf "$TAR" src
NTAR=$(tar -tf "$TAR" | grep -vc '/$')
W_UNTAR="untar go/src ($NTAR files)"
W_LS="ls -lR go/src (cold)"
W_RMTREE="rm -rf go/src (cold)"

untar() {
	mkdir "$2/go"
	cat "$TAR" >/dev/null
	timed tar -C "$2/go" -xf "$TAR"
	record "$W_UNTAR" "$1" "$SECS"
}
ls_tree() { drop_caches; timed ls -lR "$2/go" >/dev/null; record "$W_LS" "$1" "$SECS"; }
rm_tree() { drop_caches; timed rm -rf "$2/go"; record "$W_RMTREE" "$1" "$SECS"; }

# ---------------------------------------------------------------- report

machine() {
	local cpu kv conf names
	cpu=$(cpu_model)
	printf 'machine:  %s, %s CPUs, kernel %s, %s\n' "${cpu:-unknown}" "$(nproc)" "$(uname -r)" "$(go version | awk '{ print $3 }')"
	printf 'backing:  %s\n' "$(backing_fs "$WORK")"
	kv=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
	conf=$WORK/kmsfs.cipher/kmsfs.conf
	names=encrypted
	grep -q '"PlaintextNames": *true' "$conf" && names=plaintext
	printf 'kmsfs:    %s, chunk size %s, %s names\n' "$kv" "$(grep -o '"ChunkSize": *[0-9]*' "$conf" | grep -o '[0-9]*$' || echo unknown)" "$names"
	if [ "$PEERS" = 1 ]; then printf 'peer:     %s\n' "$(gocryptfs -version | head -n 1)"; fi
	printf 'run:      bench/mount.sh %s, %s MiB sequential, fio %s s on %s MiB\n' "$ARGV" "$SEQ_MIB" "$FIO_SECS" "$FIO_MIB"
}

# ratio A B: A/B with 2 decimals, or "-" when either is missing or zero.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else printf "-" }'; }

table() {
	local w t row hdr p
	hdr=$(printf '%-32s %-5s %10s' workload unit plain)
	for t in "${TARGETS[@]:1}"; do hdr+=$(printf ' %10s %8s' "$t" "/plain"); done
	[ "$PEERS" = 1 ] && hdr+=$(printf ' %15s' "kmsfs/gocryptfs")
	printf '%s\n' "$hdr"
	for w in "${WORKLOADS[@]}"; do
		p=${RES["$w|plain"]:-}
		row=$(printf '%-32s %-5s %10s' "$w" "${UNIT[$w]}" "${p:--}")
		for t in "${TARGETS[@]:1}"; do
			row+=$(printf ' %10s %8s' "${RES["$w|$t"]:--}" "$(ratio "${RES["$w|$t"]:-}" "$p")")
		done
		[ "$PEERS" = 1 ] && row+=$(printf ' %15s' "$(ratio "${RES["$w|kmsfs"]:-}" "${RES["$w|gocryptfs"]:-}")")
		printf '%s\n' "$row"
	done
	printf '\nRatios are result / plain (or kmsfs / gocryptfs) from this run: above 1 is better\n'
	printf 'for MB/s and IOPS, worse for seconds and µs/op. Caches are dropped before every "cold" step.\n'
}

log "mount.sh: measuring in $WORK (${TARGETS[*]})"
workload "$W_SEQW" MB/s
workload "$W_SEQR" MB/s
each seq_write
each seq_read
if [ "$HAVE_FIO" = 1 ]; then
	for rw in read write; do
		for qd in 1 4; do
			workload "rand $rw 4k qd$qd (fio O_DIRECT)" IOPS
			workload "rand $rw 4k qd$qd (fio O_DIRECT) cpu" µs/op
		done
	done
	each fio_layout
	each rand_read
	each rand_read4
	each rand_write
	each rand_write4
	each fio_clean
fi
for w in "$W_CREATE" "$W_STAT" "$W_READDIR" "$W_UNTAR" "$W_LS" "$W_RMSMALL" "$W_RMTREE"; do workload "$w" s; done
each small_create
each small_stat
each small_readdir
each untar
each ls_tree
each small_rm
each rm_tree

echo
machine
echo
table
log "mount.sh: done in $(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
