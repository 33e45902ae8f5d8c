package integration

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/volume"
)

// chunk is the chunk size kmsfs init gives the volumes here.
const chunk = volume.DefaultChunkSize
const headerSize = 544 // envelope.HeaderSize
const chunkOverhead = 28

// TestCorruptChunk flips one byte of the middle chunk of a three-chunk file:
// that chunk's range fails with EIO and is logged with path and index; the
// rest of the file and the tree stay readable.
func TestCorruptChunk(t *testing.T) {
	v := newVol(t)
	v.mount()
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*chunk/16)
	if err := os.WriteFile(filepath.Join(v.plain, "victim"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.plain, "bystander"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	victim := v.cipherPath("victim")
	v.umount()
	flipByte(t, victim, headerSize+(chunk+chunkOverhead)+100)
	v.mount()

	f, err := os.Open(filepath.Join(v.plain, "victim"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for _, tc := range []struct {
		off  int64
		want error
	}{
		{0, nil},
		{chunk - 4096, nil},
		{chunk, syscall.EIO},
		{2*chunk - 4096, syscall.EIO},
		{2 * chunk, nil},
	} {
		_, err := f.ReadAt(buf, tc.off)
		if !errors.Is(err, tc.want) {
			t.Errorf("ReadAt(off=%d) = %v, want %v", tc.off, err, tc.want)
		}
		if tc.want == nil && err == nil && !bytes.Equal(buf, data[tc.off:tc.off+4096]) {
			t.Errorf("ReadAt(off=%d) returned wrong data", tc.off)
		}
	}
	if got, err := os.ReadFile(filepath.Join(v.plain, "bystander")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("another file is hurt: %v", err)
	}
	log, _ := os.ReadFile(v.log)
	if !bytes.Contains(log, []byte("victim")) || !bytes.Contains(log, []byte("chunk")) {
		t.Errorf("mount log does not name the file and chunk:\n%s", log)
	}
}

// TestKill9 kills the serving process during writes; after a fresh mount
// every file reads, and data that was fsynced before the kill is intact.
func TestKill9(t *testing.T) {
	v := newVol(t)
	v.mount()
	synced := bytes.Repeat([]byte("synced data "), 50000)
	f, err := os.Create(filepath.Join(v.plain, "synced"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(synced); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	writer := exec.Command("bash", "-c", `i=0; while true; do i=$((i+1)); head -c 100000 /dev/urandom > f$((i % 20)); done`)
	writer.Dir = v.plain
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	pid := servingPID(t, v)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	writer.Process.Kill()
	writer.Wait()
	// The kernel keeps the dead FUSE mount until it is unmounted.
	exec.Command("umount", "-l", v.plain).Run()
	waitGone(t, v.keyring+".sock")
	v.mount()
	entries, err := os.ReadDir(v.plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := os.ReadFile(filepath.Join(v.plain, e.Name())); err != nil {
			t.Errorf("after kill -9: %s unreadable: %v", e.Name(), err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(v.plain, "synced")); !bytes.Equal(got, synced) {
		t.Error("fsynced file changed after kill -9")
	}
}

// servingPID finds the kmsfs process serving v's mount.
func servingPID(t *testing.T, v *vol) int {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", "kmsfs.*mount -f.*"+v.plain).Output()
	if err != nil {
		t.Fatalf("no serving process for %s: %v", v.plain, err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(out))[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func waitGone(t *testing.T, path string) {
	t.Helper()
	for range 500 {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestKeyCommandsWhileMounted: the mount owns the keyring; key and alias
// commands reach it through the socket, and a disabled key takes effect.
func TestKeyCommandsWhileMounted(t *testing.T) {
	v := newVol(t)
	v.mount()
	if err := os.WriteFile(filepath.Join(v.plain, "before"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := v.must("key", "create", "--description", "second", "--alias", "alias/second")
	if !strings.Contains(out, "alias/second") {
		t.Errorf("key create printed %q", out)
	}
	list := v.must("key", "list")
	if !strings.Contains(list, "alias/kmsfs") || !strings.Contains(list, "alias/second") {
		t.Errorf("key list while mounted:\n%s", list)
	}
	v.must("key", "rotate", "alias/kmsfs")
	if out := v.must("--json", "key", "describe", "alias/kmsfs"); !strings.Contains(out, `"CurrentKeyVersion": 2`) {
		t.Errorf("describe after rotate: %s", out)
	}
	if err := os.WriteFile(filepath.Join(v.plain, "after-rotate"), []byte("y"), 0o644); err != nil {
		t.Errorf("write after rotation: %v", err)
	}
	v.must("key", "disable", "alias/kmsfs")
	if err := os.WriteFile(filepath.Join(v.plain, "while-disabled"), []byte("z"), 0o644); !errors.Is(err, syscall.EACCES) {
		t.Errorf("creating a file under a disabled key: %v, want EACCES", err)
	}
	v.must("key", "enable", "alias/kmsfs")
	if got, err := os.ReadFile(filepath.Join(v.plain, "before")); err != nil || string(got) != "x" {
		t.Errorf("file written before rotation: %q %v", got, err)
	}
}

// TestMountErrors: each bad start is a one-line error, a non-zero exit, and
// nothing mounted.
func TestMountErrors(t *testing.T) {
	v := newVol(t)
	wrong := filepath.Join(v.base, "wrong")
	os.WriteFile(wrong, []byte("not the passphrase\n"), 0o600)
	notInit := filepath.Join(v.base, "empty")
	os.Mkdir(notInit, 0o700)
	busy := filepath.Join(v.base, "busy")
	os.Mkdir(busy, 0o700)
	os.WriteFile(filepath.Join(busy, "file"), nil, 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"wrong passphrase", []string{"--passfile", wrong, "mount", v.cipher, v.plain}, 3, "passphrase"},
		{"uninitialised", []string{"mount", notInit, v.plain}, 4, "kmsfs init"},
		{"missing cipherdir", []string{"mount", filepath.Join(v.base, "nope"), v.plain}, 1, "no such file"},
		{"non-empty mountpoint", []string{"mount", v.cipher, busy}, 1, "not an empty directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := v.kmsfs(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line containing %q", code, errOut, tc.code, tc.msg)
			}
			if v.mounted() {
				t.Error("something got mounted")
			}
		})
	}
	t.Run("disabled key", func(t *testing.T) {
		v.must("key", "disable", "alias/kmsfs")
		defer v.must("key", "enable", "alias/kmsfs")
		_, errOut, code := v.kmsfs("mount", v.cipher, v.plain)
		if code != 5 || !strings.Contains(errOut, "Disabled") {
			t.Errorf("exit %d, stderr %q; want exit 5 naming the disabled key", code, errOut)
		}
		if v.mounted() {
			t.Error("mounted with a disabled key")
		}
	})
}
