package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/testutil"
)

// kmsfsBin is the binary under test, built once by TestMain.
var kmsfsBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kmsfs-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kmsfsBin = filepath.Join(dir, "kmsfs")
	build := exec.Command("go", "build", "-o", kmsfsBin, "../cmd/kmsfs")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building kmsfs: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	if leftover := kmsfsMounts(); code == 0 && len(leftover) > 0 {
		fmt.Fprintf(os.Stderr, "tests left kmsfs mounts behind: %v\n", leftover)
		return 1
	}
	return code
}

// kmsfsMounts lists mountpoints of kmsfs filesystems still mounted.
func kmsfsMounts() []string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && strings.HasPrefix(f[2], "fuse") && f[0] == "kmsfs" && strings.Contains(f[1], "kmsfs-it") {
			out = append(out, f[1])
		}
	}
	return out
}

// vol is one encrypted directory with its own keyring, for one test.
type vol struct {
	t        *testing.T
	base     string
	keyring  string
	cipher   string
	plain    string
	passfile string
	log      string
}

// envPlaintextNames set to 1 makes newVol initialise volumes with
// --plaintext-names, so that the suite runs in both name modes (CI runs it
// twice).
const envPlaintextNames = "KMSFS_IT_PLAINTEXT_NAMES"

// plaintextNames reports whether this run's volumes store plaintext names.
func plaintextNames() bool { return os.Getenv(envPlaintextNames) == "1" }

// newVol initialises a fresh volume; mount it with v.mount. Names are
// encrypted (the default) unless KMSFS_IT_PLAINTEXT_NAMES=1.
func newVol(t *testing.T, initArgs ...string) *vol {
	t.Helper()
	testutil.RequireFUSE(t)
	base, err := os.MkdirTemp("", "kmsfs-it-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	v := &vol{
		t:        t,
		base:     base,
		keyring:  filepath.Join(base, "keyring"),
		cipher:   filepath.Join(base, "cipher"),
		plain:    filepath.Join(base, "plain"),
		passfile: filepath.Join(base, "pass"),
		log:      filepath.Join(base, "mount.log"),
	}
	if err := os.WriteFile(v.passfile, []byte("integration passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(v.plain, 0o755); err != nil {
		t.Fatal(err)
	}
	if plaintextNames() {
		initArgs = append([]string{"--plaintext-names"}, initArgs...)
	}
	v.must(append([]string{"init"}, append(initArgs, v.cipher)...)...)
	return v
}

// cipherPath returns the backing file in CIPHERDIR of plainRel, a path in
// the mounted volume. Names may be encrypted, so it is found by inode
// number: the mount reports the backing file's. The volume must be
// mounted.
func (v *vol) cipherPath(plainRel string) string {
	v.t.Helper()
	var want syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(v.plain, plainRel), &want); err != nil {
		v.t.Fatal(err)
	}
	found := ""
	err := filepath.WalkDir(v.cipher, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return err
		}
		var st syscall.Stat_t
		if syscall.Lstat(p, &st) == nil && st.Ino == want.Ino && p != v.cipher {
			found = p
		}
		return nil
	})
	if err != nil || found == "" {
		v.t.Fatalf("no backing file for %s in %s: %v", plainRel, v.cipher, err)
	}
	return found
}

// kmsfs runs the binary with this volume's keyring and passphrase file.
func (v *vol) kmsfs(args ...string) (stdout, stderr string, code int) {
	v.t.Helper()
	full := append([]string{"--keyring", v.keyring, "--passfile", v.passfile}, args...)
	cmd := exec.Command(kmsfsBin, full...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		v.t.Fatalf("kmsfs %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// must runs kmsfs and fails the test on a non-zero exit.
func (v *vol) must(args ...string) string {
	v.t.Helper()
	out, errOut, code := v.kmsfs(args...)
	if code != 0 {
		v.t.Fatalf("kmsfs %s: exit %d: %s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// mount mounts the volume in the background and unmounts it at cleanup.
func (v *vol) mount(extra ...string) {
	v.t.Helper()
	v.must(append(append([]string{"mount", "--log", v.log}, extra...), v.cipher, v.plain)...)
	v.t.Cleanup(func() { v.umount() })
}

// umount unmounts if mounted and waits until the serving process let go
// of the keyring (its socket is gone), so the next command can open it.
func (v *vol) umount() {
	v.t.Helper()
	if !v.mounted() {
		return
	}
	if _, errOut, code := v.kmsfs("umount", v.plain); code != 0 {
		v.t.Errorf("umount: %s", errOut)
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(v.keyring + ".sock"); errors.Is(err, os.ErrNotExist) && keyringFree(v.keyring) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	v.t.Errorf("serving process did not release the keyring within 10s")
}

// keyringFree reports whether no process holds the keyring open: the
// serving process removes its socket before it closes the keyring, so
// the socket alone does not say the next command can open it.
func keyringFree(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "kmsfs-keyring.lock"))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}

func (v *vol) mounted() bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		v.t.Fatal(err)
	}
	return bytes.Contains(b, []byte(" "+v.plain+" "))
}

// sh runs a shell command in dir and fails the test if it fails.
func sh(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s: %v\n%s", dir, script, err, out)
	}
	return string(out)
}

// needTool skips unless a program is installed (scripts/deps installs them).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv(testutil.EnvRequireFUSE) == "1" {
			t.Fatalf("%s not installed (scripts/deps installs it)", name)
		}
		t.Skipf("%s not installed", name)
	}
}
