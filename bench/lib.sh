# shellcheck shell=bash
# bench/lib.sh: helpers shared by the mount benchmarks (bench/mount.sh,
# bench/compare.sh): Debian packages, the work directory and its cleanup on
# any exit, timing, dropping caches, mounting kmsfs and gocryptfs, and
# reading a FUSE server's CPU time and peak RSS from /proc.
#
# Sourced, not run. The caller sets PROG (its name, for messages) and
# REPO (the repository root) and runs under `set -Eeuo pipefail`.

log() { printf '%s\n' "$*" >&2; }
die() { log "$PROG: $*"; exit 1; }

APT_UPDATED=0
# apt_install PKG: installs a Debian package; returns non-zero on failure.
apt_install() {
	command -v apt-get >/dev/null || return 1
	if [ "$APT_UPDATED" = 0 ]; then
		apt-get update -qq >&2 || return 1
		APT_UPDATED=1
	fi
	log "$PROG: installing $1 from Debian"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

# ---------------------------------------------------------------- cleanup

# work_dir BASE NAME: creates WORK, a temporary directory under BASE, and
# arms the traps that, on any exit (also failure or Ctrl-C), unmount
# MOUNTS, wait for the FUSE servers in SERVERS and remove WORK.
work_dir() {
	mkdir -p "$1"
	WORK=$(mktemp -d "$1/$2.XXXXXX")
	MOUNTS=()
	SERVERS=()
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'log "$PROG: failed at line $LINENO: $BASH_COMMAND"' ERR
}

# unmount MNT: unmounts a FUSE mount, lazily if it stays busy.
unmount() {
	local m=$1 i
	mountpoint -q "$m" || return 0
	for i in 1 2 3 4 5; do
		fusermount3 -u "$m" 2>/dev/null && return 0
		sleep 1 # busy: a process of ours may still be closing a file
	done
	log "$PROG: $m busy, detaching lazily"
	fusermount3 -u -z "$m" || umount -l "$m"
}

cleanup() {
	local rc=$? m p i
	trap - EXIT INT TERM ERR
	cd /
	for m in "${MOUNTS[@]}"; do unmount "$m" || rc=1; done
	for p in "${SERVERS[@]}"; do
		for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$p" 2>/dev/null && { log "$PROG: server $p still running, stopping it"; kill "$p" || true; }
	done
	if [ "$rc" != 0 ] && [ -s "$WORK/kmsfs.log" ]; then
		log "$PROG: kmsfs log (last lines):"
		tail -n 20 "$WORK/kmsfs.log" >&2
	fi
	for m in "${MOUNTS[@]}"; do
		if mountpoint -q "$m"; then
			log "$PROG: $m is still mounted: leaving $WORK in place"
			exit 1
		fi
	done
	rm -rf "$WORK"
	exit "$rc"
}

# ---------------------------------------------------------------- measuring

# timed CMD...: runs CMD and sets SECS to its wall-clock duration.
timed() {
	local t0=$EPOCHREALTIME
	"$@"
	# shellcheck disable=SC2034 # read by the caller
	SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
}

WARNED_DROP=0
# drop_caches empties the page, dentry and inode caches, so that reads
# and lookups reach the FUSE server and the disk.
drop_caches() {
	sync
	if ! echo 3 >/proc/sys/vm/drop_caches 2>/dev/null && [ "$WARNED_DROP" = 0 ]; then
		log "$PROG: cannot drop caches: read numbers include cached data"
		WARNED_DROP=1
	fi
}

# shellcheck disable=SC2034 # read by the callers
CLK_TCK=$(getconf CLK_TCK)

# proc_ticks PID: user+system CPU time of process PID, all threads, in
# clock ticks (CLK_TCK per second).
proc_ticks() {
	# Fields after the ")" closing the command name: utime is the 12th, stime the 13th.
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# reset_peak_rss PID: restarts the peak RSS (VmHWM) of PID from its current RSS.
reset_peak_rss() { echo 5 >"/proc/$1/clear_refs"; }

# peak_rss PID: VmHWM of PID in KiB, the peak RSS since reset_peak_rss.
peak_rss() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# ---------------------------------------------------------------- targets

# build_kmsfs: builds this tree's kmsfs into WORK, sets KMSFS, and exports
# a keyring in WORK with a random passphrase for init and mount.
build_kmsfs() {
	log "$PROG: building kmsfs"
	(cd "$REPO" && go build -o "$WORK/kmsfs" ./cmd/kmsfs)
	KMSFS=$WORK/kmsfs
	export KMSFS_KEYRING=$WORK/keyring KMSFS_PASSPHRASE="bench-$RANDOM-$RANDOM"
}

# mount_kmsfs CIPHER MNT [INIT_ARG...]: makes a volume and mounts it,
# logging to WORK/kmsfs.log; sets SERVER to the PID of its FUSE server.
mount_kmsfs() {
	local c=$1 m=$2
	shift 2
	"$KMSFS" init "$@" "$c" >/dev/null
	mkdir -p "$m"
	MOUNTS+=("$m")
	"$KMSFS" mount --log "$WORK/kmsfs.log" "$c" "$m"
	# The serving process detached itself; find it to wait for its exit.
	SERVER=$(pgrep -f -- "^$KMSFS .* mount -f .*$c $m\$" | head -n 1 || true)
	[ -z "$SERVER" ] || SERVERS+=("$SERVER")
	mountpoint -q "$m" || die "kmsfs is not mounted at $m"
}

# mount_gocryptfs CIPHER MNT: the same for gocryptfs, default options.
mount_gocryptfs() {
	local c=$1 m=$2
	mkdir -p "$c" "$m"
	gocryptfs -init -q -extpass 'echo pw' "$c"
	MOUNTS+=("$m")
	gocryptfs -q -nosyslog -extpass 'echo pw' "$c" "$m"
	SERVER=$(pgrep -f -- "gocryptfs .*$c $m\$" | head -n 1 || true)
	[ -z "$SERVER" ] || SERVERS+=("$SERVER")
	mountpoint -q "$m" || die "gocryptfs is not mounted at $m"
}

# ---------------------------------------------------------------- workloads

# make_files DIR NDIRS NFILES: NDIRS directories of NFILES small files
# (bash builtins: no process per file, so the filesystem dominates).
make_files() {
	local i j
	mkdir "$1"
	for ((i = 0; i < $2; i++)); do
		mkdir "$1/d$i"
		for ((j = 0; j < $3; j++)); do
			echo "small file $i/$j" >"$1/d$i/f$j"
		done
	done
}

# stat_files DIR: stats every file below DIR.
stat_files() { find "$1" -type f -print0 | xargs -0 stat --format=%s >/dev/null; }

# cpu_model: the CPU's model name.
cpu_model() { awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo; }

# backing_fs DIR: the device and filesystem type DIR is on.
backing_fs() { printf '%s (%s)' "$(df --output=source "$1" | tail -n 1)" "$(df --output=fstype "$1" | tail -n 1)"; }
