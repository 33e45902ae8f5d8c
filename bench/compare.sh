#!/usr/bin/env bash
# bench/compare.sh: kmsfs against gocryptfs and securefs (issue 10), with
# the plain directory as reference, all on one backing filesystem, in
# interleaved rounds: round r runs every step on the targets in an order
# rotated by r (A B C D, then B C D A, ...), so that drift on the machine
# falls on every target alike.
#
# Usage: bench/compare.sh [--rounds N] [--quick | --smoke] [--only LIST]
#                         [--workloads LIST] [--dir DIR] [--tsv FILE] [--settle SECS]
#   --rounds N        rounds (default 3; 1 with --quick or --smoke)
#   --quick           256 MiB files, 3 s per fio run, 2,000 small files, 1 round
#   --smoke           8 MiB files, 1 s per fio run, 50 small files, src/unicode
#                     as the tree: checks that the script works, measures nothing
#   --only LIST       targets, comma-separated: plain,gocryptfs,securefs,kmsfs
#                     (the default), and kmsfs4k: a kmsfs volume made with
#                     --chunk-size 4096, to weigh the chunk size
#   --workloads LIST  comma-separated ids from the list below (all)
#   --dir DIR         backing directory (default /var/tmp); every target lives
#                     in its own subdirectory of one temporary directory there
#   --tsv FILE        also write the raw per-round numbers there
#   --settle SECS     pause between rounds (default 30 on ext4, else 0: ext4
#                     without a journal slows inode allocation for 30 s after
#                     mass deletions, which would fall on the next round)
#
# Workloads, in table order (ids for --workloads). fio runs with
# ioengine=psync; "qd4" is numjobs=4 (four processes on one file, one
# request each in flight), not iodepth. Random I/O is O_DIRECT; a target
# that refuses O_DIRECT runs it buffered and its cells are marked "b".
#   seqwrite    fio write bs=1M end_fsync=1 of a new file, MB/s of wall time
#   seqread     caches dropped, fio read bs=1M of that file, MB/s of wall time
#   randread1   fio randread bs=4k direct=1, numjobs=1, IOPS
#   randread4   the same, numjobs=4
#   randwrite1  fio randwrite bs=4k direct=1, numjobs=1, IOPS
#   randwrite4  the same, numjobs=4
#   untar       tar -xf of $(go env GOROOT)/src, archived once outside the targets, s
#   ls          caches dropped, ls -lR of the tree, s
#   du          du -s of the tree, after one untimed du (warm), s
#   rmtree      caches dropped, rm -rf of the tree, s
#   create      100 directories of 100 small files (bash echo, no process per file), s
#   stat        caches dropped, stat of each of those files (find | xargs stat), s
# Steps run in the order seqwrite..randwrite4, create, stat, untar, ls, du,
# rmtree, each on every target before the next; deletions come last.
#
# Output (stdout), after the machine and versions:
#   medians     the median over rounds of each workload on each target
#   ratio       per round, the target's result over gocryptfs's, turned so
#               that above 1 is better (time: gocryptfs/target; MB/s, IOPS:
#               target/gocryptfs); median of the rounds (min-max). The last
#               row is the geometric mean over the workloads, taken per round.
#   cpu/op      the FUSE server's user+system CPU time (utime+stime in
#               /proc/PID/stat) during the step, in µs per fio request (1 MiB
#               or 4 KiB) or per file or tree entry; median (min-max)
#   peak RSS    the FUSE server's VmHWM during the step (reset before each
#               step through /proc/PID/clear_refs), MiB, maximum over rounds
# The TSV has one row per round, workload and target: value, I/O mode,
# operations, seconds, CPU ticks, CPU µs/op and peak RSS in KiB.
#
# Run as root: it mounts, drops caches (sync; echo 3 > drop_caches) and
# installs missing Debian packages with apt-get (fuse3, fio, gocryptfs,
# securefs). Numbers are never asserted: it fails only when a command
# fails. Everything it mounts is unmounted on exit, also on failure or Ctrl-C.
set -Eeuo pipefail
export LC_ALL=C # EPOCHREALTIME and printf use '.' as the decimal point

PROG=compare.sh
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

ALL_TARGETS=(plain gocryptfs securefs kmsfs kmsfs4k)
DEFAULT_TARGETS=plain,gocryptfs,securefs,kmsfs
ALL_WORKLOADS=(seqwrite seqread randread1 randread4 randwrite1 randwrite4 untar ls du rmtree create stat)
RUN_ORDER=(seqwrite seqread randread1 randread4 randwrite1 randwrite4 create stat untar ls du rmtree)
ARGV="$*"
SIZE=full ROUNDS="" BASE=/var/tmp TSV="" SETTLE="" ONLY="" ONLY_W=""

usage() { sed -n '2,/^set -Eeuo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
# arg OPTION VALUE...: fails unless a value follows OPTION.
arg() { [ $# -ge 2 ] || { log "$PROG: $1 needs a value (see --help)"; exit 2; }; }

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) arg "$@"; ROUNDS=$2; shift ;;
	--quick) SIZE=quick ;;
	--smoke) SIZE=smoke ;;
	--only) arg "$@"; ONLY=$2; shift ;;
	--workloads) arg "$@"; ONLY_W=$2; shift ;;
	--dir) arg "$@"; BASE=$2; shift ;;
	--tsv) arg "$@"; TSV=$2; shift ;;
	--settle) arg "$@"; SETTLE=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) log "$PROG: unknown argument $1 (see --help)"; exit 2 ;;
	esac
	shift
done

case $SIZE in
full) FILE_MIB=1024 FIO_SECS=10 NDIRS=100 NFILES=100 TREE=src ;;
quick) FILE_MIB=256 FIO_SECS=3 NDIRS=20 NFILES=100 TREE=src ;;
smoke) FILE_MIB=8 FIO_SECS=1 NDIRS=2 NFILES=25 TREE=src/unicode ;;
esac
if [ -z "$ROUNDS" ]; then ROUNDS=1; [ "$SIZE" != full ] || ROUNDS=3; fi
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { log "$PROG: --rounds wants a positive number"; exit 2; }
[[ "$SETTLE" =~ ^[0-9]*$ ]] || { log "$PROG: --settle wants seconds"; exit 2; }

# has NAME LIST...: whether NAME is one of LIST.
has() { [[ " ${*:2} " == *" $1 "* ]]; }

# pick VAR LIST ALLOWED...: sets array VAR to the names in comma-separated
# LIST (all of ALLOWED when LIST is empty), in ALLOWED's order.
pick() {
	local -n out=$1
	local list=",$2," w
	shift 2
	for w in ${list//,/ }; do
		has "$w" "$@" || { log "$PROG: unknown name $w (want some of: $*)"; exit 2; }
	done
	out=()
	for w in "$@"; do
		if [ "$list" = ",," ] || [[ "$list" == *",$w,"* ]]; then out+=("$w"); fi
	done
	[ ${#out[@]} -gt 0 ] || { log "$PROG: nothing to run"; exit 2; }
}
pick TARGETS "${ONLY:-$DEFAULT_TARGETS}" "${ALL_TARGETS[@]}"
pick WORKLOADS "$ONLY_W" "${ALL_WORKLOADS[@]}"
# uses WORKLOAD...: whether any of them was picked.
uses() { local w; for w in "$@"; do has "$w" "${WORKLOADS[@]}" && return 0; done; return 1; }

[ "$(id -u)" = 0 ] || die "run as root: it mounts, drops caches and may apt-get install"
command -v go >/dev/null || die "go is not in PATH"
START=$EPOCHREALTIME

# ---------------------------------------------------------------- packages

command -v fusermount3 >/dev/null || apt_install fuse3 || die "fuse3 is missing and could not be installed"
if uses seqwrite seqread randread1 randread4 randwrite1 randwrite4; then
	command -v fio >/dev/null || apt_install fio || die "fio is missing and could not be installed"
fi
for t in gocryptfs securefs; do
	if has "$t" "${TARGETS[@]}"; then
		command -v "$t" >/dev/null || apt_install "$t" || die "$t is missing and could not be installed"
	fi
done

# ---------------------------------------------------------------- targets

work_dir "$BASE" kmsfs-compare # unmounts and removes it on any exit
declare -A DIR PID DIRECT

# mount_securefs CIPHER MNT: a format-4 securefs volume, served in the
# foreground by a background job, so that $! is its FUSE server.
mount_securefs() {
	local c=$1 m=$2 i
	mkdir -p "$c" "$m"
	securefs create --format 4 --pass pw "$c" >"$WORK/securefs.log" 2>&1
	MOUNTS+=("$m")
	securefs mount --pass pw "$c" "$m" >>"$WORK/securefs.log" 2>&1 &
	SERVER=$!
	SERVERS+=("$SERVER")
	for i in $(seq 200); do
		mountpoint -q "$m" && return 0
		kill -0 "$SERVER" 2>/dev/null || break
		sleep 0.1 # securefs has no readiness signal: the mount table is it
	done
	tail -n 20 "$WORK/securefs.log" >&2
	die "securefs is not mounted at $m"
}

# direct_ok DIR: whether a file in DIR can be written and read with O_DIRECT.
direct_ok() {
	dd if=/dev/zero of="$1/.direct" bs=4k count=1 oflag=direct status=none 2>/dev/null &&
		dd if="$1/.direct" of=/dev/null bs=4k iflag=direct status=none 2>/dev/null
	local ok=$?
	rm -f "$1/.direct"
	return "$ok"
}

# build_once: build_kmsfs for the first kmsfs target only (it makes the
# keyring's passphrase, which every kmsfs volume of the run shares).
build_once() { [ -n "${BUILT:-}" ] || { build_kmsfs; BUILT=1; }; }

for t in "${TARGETS[@]}"; do
	case $t in
	plain) DIR[plain]=$WORK/plain; mkdir "$WORK/plain"; continue ;;
	kmsfs) build_once; mount_kmsfs "$WORK/kmsfs.cipher" "$WORK/kmsfs.mnt" ;;
	kmsfs4k) build_once; mount_kmsfs "$WORK/kmsfs4k.cipher" "$WORK/kmsfs4k.mnt" --chunk-size 4096 ;;
	gocryptfs) mount_gocryptfs "$WORK/gocryptfs.cipher" "$WORK/gocryptfs.mnt" ;;
	securefs) mount_securefs "$WORK/securefs.cipher" "$WORK/securefs.mnt" ;;
	esac
	DIR[$t]=$WORK/$t.mnt
	PID[$t]=$SERVER
	[ -n "$SERVER" ] || die "$t: cannot find its FUSE server's PID"
done
for t in "${TARGETS[@]}"; do
	DIRECT[$t]=1
	direct_ok "${DIR[$t]}" || { DIRECT[$t]=0; log "$PROG: $t refuses O_DIRECT: its random I/O runs buffered (marked b)"; }
done

NSMALL=$((NDIRS * NFILES))
if uses untar ls du rmtree; then
	# Archived once on the backing filesystem, outside every target, and
	# read into the page cache before every untar.
	TAR=$WORK/go-src.tar
	tar -C "$(go env GOROOT)" -cf "$TAR" "$TREE"
	NTREE=$(tar -tf "$TAR" | wc -l)
fi

# ---------------------------------------------------------------- workloads
#
# Each step function takes TARGET DIR, runs its command through measure,
# and sets VALUE and OPS; it prepares what it needs (a data file, the small
# files, the tree) untimed when the step that makes it was not picked.

declare -A LABEL UNIT
LABEL=(
	[seqwrite]="seq write $FILE_MIB MiB (fio 1M, end_fsync)" [seqread]="seq read $FILE_MIB MiB (cold)"
	[randread1]="rand read 4k O_DIRECT qd1" [randread4]="rand read 4k O_DIRECT qd4"
	[randwrite1]="rand write 4k O_DIRECT qd1" [randwrite4]="rand write 4k O_DIRECT qd4"
	[untar]="untar go/$TREE (${NTREE:-0} entries)" [ls]="ls -lR (cold)" [du]="du -s (warm)"
	[rmtree]="rm -rf of the tree (cold)" [create]="create $NSMALL files" [stat]="stat $NSMALL files (cold)"
)
for w in "${ALL_WORKLOADS[@]}"; do UNIT[$w]=s; done
UNIT[seqwrite]=MB/s UNIT[seqread]=MB/s
for w in randread1 randread4 randwrite1 randwrite4; do UNIT[$w]=IOPS; done

# measure TARGET CMD...: times CMD and sets TICKS and RSS_KIB to its FUSE
# server's CPU ticks and peak RSS during CMD (empty for plain).
measure() {
	local p=${PID[$1]:-} c0=""
	shift
	if [ -n "$p" ]; then reset_peak_rss "$p"; c0=$(proc_ticks "$p"); fi
	timed "$@"
	TICKS="" RSS_KIB=""
	if [ -n "$p" ]; then
		TICKS=$(($(proc_ticks "$p") - c0))
		RSS_KIB=$(peak_rss "$p")
	fi
}

# run_fio DIR ARG...: fio on DIR/data, its report in WORK/fio.out. It runs
# as a waited-for background job so that Ctrl-C reaches our INT trap: fio
# catches SIGINT and exits normally, and bash runs no INT trap after a
# foreground command that handled the signal itself.
run_fio() {
	local d=$1
	shift
	fio --name=bench --directory="$d" --filename=data --size="${FILE_MIB}m" --ioengine=psync --fallocate=none \
		--output-format=terse --terse-version=3 --output="$WORK/fio.out" "$@" &
	wait "$!"
}
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; } # MB/s

# fio_seq DIR RW: one pass of fio over DIR/data in 1 MiB requests.
fio_seq() { run_fio "$1" --rw="$2" --bs=1M --end_fsync=1; }

need_data() { [ -e "$2/data" ] || fio_seq "$2" write >/dev/null; }
step_seqwrite() {
	rm -f "$2/data"
	drop_caches
	measure "$1" fio_seq "$2" write
	VALUE=$(rate $((FILE_MIB << 20)) "$SECS") OPS=$FILE_MIB MODE=buffered
}
step_seqread() {
	need_data "$@"
	drop_caches
	measure "$1" fio_seq "$2" read
	VALUE=$(rate $((FILE_MIB << 20)) "$SECS") OPS=$FILE_MIB MODE=buffered
}

# fio_randrun DIR RW DIRECT JOBS: random 4k requests for FIO_SECS.
fio_randrun() {
	run_fio "$1" --rw="$2" --bs=4k --direct="$3" --numjobs="$4" --group_reporting \
		--runtime="$FIO_SECS" --time_based --randrepeat=1
}

# fio_rand TARGET DIR RW JOBS: 4k random requests from JOBS processes;
# IOPS and requests done are terse v3 fields 8 and 6 (KiB) for reads, 49
# and 47 for writes (--group_reporting sums the jobs).
fio_rand() {
	local kf=6 f=8
	[ "$3" = randwrite ] && kf=47 f=49
	need_data "$1" "$2"
	drop_caches
	measure "$1" fio_randrun "$2" "$3" "${DIRECT[$1]}" "$4"
	VALUE=$(awk -F';' -v f="$f" '$1 == 3 { printf "%.0f", $f; exit }' "$WORK/fio.out")
	OPS=$(awk -F';' -v f="$kf" '$1 == 3 { printf "%.0f", $f / 4; exit }' "$WORK/fio.out")
	MODE=$([ "${DIRECT[$1]}" = 1 ] && echo direct || echo buffered)
}
step_randread1() { fio_rand "$1" "$2" randread 1; }
step_randread4() { fio_rand "$1" "$2" randread 4; }
step_randwrite1() { fio_rand "$1" "$2" randwrite 1; }
step_randwrite4() { fio_rand "$1" "$2" randwrite 4; }

need_small() { [ -e "$2/small" ] || make_files "$2/small" "$NDIRS" "$NFILES"; }
step_create() {
	rm -rf "$2/small"
	measure "$1" make_files "$2/small" "$NDIRS" "$NFILES"
	VALUE=$SECS OPS=$NSMALL
}
step_stat() {
	need_small "$@"
	drop_caches
	measure "$1" stat_files "$2/small"
	VALUE=$SECS OPS=$NSMALL
}

untar() { mkdir "$1/go" && tar -C "$1/go" -xf "$TAR"; }
ls_tree() { ls -lR "$1" >/dev/null; }
du_tree() { du -s "$1" >/dev/null; }
need_tree() { [ -e "$2/go" ] || untar "$2"; }
step_untar() {
	rm -rf "$2/go"
	cat "$TAR" >/dev/null
	measure "$1" untar "$2"
	VALUE=$SECS OPS=$NTREE
}
# on_tree TARGET DIR cold|warm CMD...: times CMD DIR/go, the tree (untarred
# first if missing), after dropping caches for a cold step.
on_tree() {
	need_tree "$1" "$2"
	[ "$3" = warm ] || drop_caches
	measure "$1" "${@:4}" "$2/go"
	VALUE=$SECS OPS=$NTREE
}
step_ls() { on_tree "$@" cold ls_tree; }
step_du() { need_tree "$@" && du_tree "$2/go" && on_tree "$@" warm du_tree; }
step_rmtree() { on_tree "$@" cold rm -rf; }

RAW=$WORK/raw.tsv
printf 'round\tslot\tworkload\tlabel\ttarget\tunit\tvalue\tmode\tops\tsecs\tcpu_ticks\tcpu_us_per_op\tpeak_rss_kib\n' >"$RAW"

# run_step ROUND SLOT WORKLOAD TARGET: one measurement, appended to RAW.
run_step() {
	local r=$1 slot=$2 w=$3 t=$4 cpu=""
	MODE=- # metadata; fio steps set buffered or direct
	"step_$w" "$t" "${DIR[$t]}"
	[ -z "$TICKS" ] || cpu=$(awk -v d="$TICKS" -v t="$CLK_TCK" -v n="$OPS" 'BEGIN { if (n > 0) printf "%.1f", d / t * 1e6 / n }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$slot" "$w" "${LABEL[$w]}" "$t" "${UNIT[$w]}" \
		"$VALUE" "$MODE" "$OPS" "$SECS" "${TICKS:--}" "${cpu:--}" "${RSS_KIB:--}" >>"$RAW"
	log "$(printf '  round %d  %-36s %-10s %10s %-5s cpu %8s us/op  rss %6s KiB' "$r" "${LABEL[$w]}" "$t" "$VALUE" \
		"${UNIT[$w]}" "${cpu:--}" "${RSS_KIB:--}")"
}

# rotated R: the targets in round R's order (round 1 as given).
rotated() {
	local n=${#TARGETS[@]} i
	for ((i = 0; i < n; i++)); do echo "${TARGETS[(i + $1 - 1) % n]}"; done
}

# run_round R: every picked step, in RUN_ORDER, on every target in the
# round's order; then removes what the steps left.
run_round() {
	local order w t slot
	mapfile -t order < <(rotated "$1")
	log "$PROG: round $1 of $ROUNDS: ${order[*]}"
	for w in "${RUN_ORDER[@]}"; do
		has "$w" "${WORKLOADS[@]}" || continue
		slot=0
		for t in "${order[@]}"; do
			slot=$((slot + 1))
			run_step "$1" "$slot" "$w" "$t"
		done
	done
	for t in "${order[@]}"; do rm -rf "${DIR[$t]:?}/data" "${DIR[$t]:?}/small" "${DIR[$t]:?}/go"; done
}

# ---------------------------------------------------------------- report

# describe: the machine, the versions and the run, before any result.
describe() {
	local orders="" r kv
	printf 'machine:    %s, %s CPUs, kernel %s, %s\n' "$(cpu_model)" "$(nproc)" "$(uname -r)" "$(go version | awk '{ print $3 }')"
	printf 'backing:    %s, %s\n' "$(backing_fs "$WORK")" "$BASE"
	if has kmsfs "${TARGETS[@]}"; then
		kv=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
		printf 'kmsfs:      %s, chunk size %s\n' "$kv" \
			"$(grep -o '"ChunkSize": *[0-9]*' "$WORK/kmsfs.cipher/kmsfs.conf" | grep -o '[0-9]*$' || echo unknown)"
	fi
	if has gocryptfs "${TARGETS[@]}"; then printf 'gocryptfs:  %s\n' "$(gocryptfs --version | head -n 1)"; fi
	if has securefs "${TARGETS[@]}"; then
		printf 'securefs:   %s (Debian package), format 4\n' "$(dpkg-query -W -f='${Version}' securefs 2>/dev/null ||
			securefs version 2>&1 | head -n 1)"
	fi
	if command -v fio >/dev/null; then printf 'fio:        %s, ioengine=psync, qd4 = numjobs=4\n' "$(fio --version)"; fi
	printf 'run:        bench/compare.sh %s\n' "$ARGV"
	printf 'sizes:      %s MiB files, fio %s s, %s small files, go/%s\n' "$FILE_MIB" "$FIO_SECS" "$NSMALL" "$TREE"
	for ((r = 1; r <= ROUNDS; r++)); do orders+="${orders:+; }$(rotated "$r" | paste -sd' ')"; done
	printf 'rounds:     %s: %s\n' "$ROUNDS" "$orders"
}

# REPORT_AWK reads RAW and prints the tables described at the top.
REPORT_AWK=$(
	cat <<'EOF'
function sortn(a, m,   i, j, x) {
	for (i = 2; i <= m; i++) {
		x = a[i]
		for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
		a[j + 1] = x
	}
}
# median of a[1..m], sorting a: a[1] is then the minimum, a[m] the maximum
function median(a, m) { sortn(a, m); return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
function num(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : x >= 1 ? sprintf("%.2f", x) : sprintf("%.3f", x) }
function spread(a, m,   md) { if (m == 0) return "-"; md = median(a, m); return m == 1 ? sprintf("%.2f", md) : sprintf("%.2f (%.2f-%.2f)", md, a[1], a[m]) }
function numspread(a, m,   md) { if (m == 0) return "-"; md = median(a, m); return m == 1 ? num(md) : num(md) " (" num(a[1]) "-" num(a[m]) ")" }
# collect W T F: the numeric values of field F over the rounds, into tmp; returns their count
function collect(w, t, f,   r, m) { m = 0; for (r = 1; r <= rounds; r++) if (((w, t, r, f) in cell) && cell[w, t, r, f] != "-") tmp[++m] = cell[w, t, r, f] + 0; return m }
# ratio W T R: T's result over gocryptfs's in round R, turned so that above 1 is better; 0 if either is missing
function ratio(w, t, r,   x, g) {
	x = cell[w, t, r, 7] + 0; g = cell[w, "gocryptfs", r, 7] + 0
	if (x <= 0 || g <= 0) return 0
	return unit[w] == "s" ? g / x : x / g
}
function row(first, second) { printf "%-40s %-6s", first, second }
# header TITLE SECOND SKIP WIDTH: a blank line, the title, and the column names (all targets but SKIP)
function header(title, second, skip, width,   i) {
	printf "\n%s\n", title
	row("workload", second); for (i = 1; i <= nt; i++) if (T[i] != skip) printf " %" width "s", T[i]; printf "\n"
}
NR == 1 { next }
{
	for (i = 7; i <= 13; i++) cell[$3, $5, $1, i] = $i
	if ($8 == "buffered" && $3 ~ /^rand/) buffered[$3, $5] = "b"
	label[$3] = $4; unit[$3] = $6; ops[$3] = $9
	if ($1 + 0 > rounds) rounds = $1 + 0
}
END {
	nt = split(targets, T, " "); nw = split(workloads, W, " ")
	for (i = 1; i <= nt; i++) if (T[i] == "gocryptfs") base = 1
	header(sprintf("Medians over %d round(s); b: buffered, the target refused O_DIRECT", rounds), "unit", "", 12)
	for (j = 1; j <= nw; j++) {
		w = W[j]; row(label[w], unit[w])
		for (i = 1; i <= nt; i++) { m = collect(w, T[i], 7); printf " %12s", (m ? num(median(tmp, m)) : "-") buffered[w, T[i]] }
		printf "\n"
	}
	if (base && nt > 1) {
		header("Ratio to gocryptfs, above 1 is better: median of the per-round ratios (min-max)", "", "gocryptfs", 20)
		for (j = 1; j <= nw; j++) {
			w = W[j]; row(label[w], "")
			for (i = 1; i <= nt; i++) {
				if (T[i] == "gocryptfs") continue
				m = 0
				for (r = 1; r <= rounds; r++) if ((x = ratio(w, T[i], r)) > 0) { tmp[++m] = x; lsum[T[i], r] += log(x); lcnt[T[i], r]++ }
				printf " %20s", spread(tmp, m) buffered[w, T[i]]
			}
			printf "\n"
		}
		row("geometric mean (per round)", "")
		for (i = 1; i <= nt; i++) {
			if (T[i] == "gocryptfs") continue
			m = 0
			for (r = 1; r <= rounds; r++) if (lcnt[T[i], r]) tmp[++m] = exp(lsum[T[i], r] / lcnt[T[i], r])
			printf " %20s", spread(tmp, m)
		}
		printf "\n"
	}
	header("FUSE server CPU per operation, us (per fio request, file or tree entry): median (min-max)", "ops", "plain", 20)
	for (j = 1; j <= nw; j++) {
		w = W[j]; row(label[w], unit[w] == "IOPS" ? "-" : ops[w])
		for (i = 1; i <= nt; i++) if (T[i] != "plain") { m = collect(w, T[i], 12); printf " %20s", numspread(tmp, m) }
		printf "\n"
	}
	header("FUSE server peak RSS during the step (VmHWM), MiB, maximum over rounds; !: above 100 MiB", "", "plain", 12)
	for (j = 1; j <= nw; j++) {
		w = W[j]; row(label[w], "")
		for (i = 1; i <= nt; i++) {
			if (T[i] == "plain") continue
			m = collect(w, T[i], 13); if (m) sortn(tmp, m)
			printf " %12s", m ? sprintf("%.0f", tmp[m] / 1024) (tmp[m] > 100 * 1024 ? "!" : "") : "-"
		}
		printf "\n"
	}
}
EOF
)

# report: the tables, from RAW.
report() {
	awk -F'\t' -v targets="${TARGETS[*]}" -v workloads="${WORKLOADS[*]}" "$REPORT_AWK" "$RAW"
}

# ---------------------------------------------------------------- run

describe
[ -n "$SETTLE" ] || { [ "$(df --output=fstype "$WORK" | tail -n 1)" = ext4 ] && SETTLE=30 || SETTLE=0; }
for ((r = 1; r <= ROUNDS; r++)); do
	if [ "$r" -gt 1 ] && [ "$SETTLE" != 0 ]; then
		log "$PROG: settling $SETTLE s after the deletions of round $((r - 1))"
		sleep "$SETTLE"
	fi
	run_round "$r"
done
report
[ -z "$TSV" ] || cp "$RAW" "$TSV"
log "$PROG: done in $(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
