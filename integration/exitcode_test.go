package integration

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestExitCode checks the README's exit-code table row by row against the
// built binary: every code the table lists has at least one case here, and
// every row of the table is covered.
func TestExitCode(t *testing.T) {
	v := newVol(t)
	dir := v.base
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("plain.txt", bytes.Repeat([]byte("exit codes\n"), 1000))
	sealed := filepath.Join(dir, "sealed.kmsfs")
	v.must("encrypt", "-o", sealed, plain)
	good, err := os.ReadFile(sealed)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(good)
	tampered[len(tampered)-20] ^= 1
	emptyDir := filepath.Join(dir, "empty")
	if err := os.Mkdir(emptyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	badConf := filepath.Join(dir, "badconf")
	if err := os.Mkdir(badConf, 0o700); err != nil {
		t.Fatal(err)
	}
	write("badconf/kmsfs.conf", []byte("{not json"))
	disabled := createdKey(t, v.must("--json", "key", "create", "--description", "to disable"))
	v.must("key", "disable", disabled)

	rows := []struct {
		code int
		name string
		args []string
		pass string // passfile content; "-" for none at all
	}{
		{0, "key list", []string{"key", "list"}, ""},
		{0, "decrypt", []string{"decrypt", "-o", filepath.Join(dir, "out"), sealed}, ""},
		{1, "decrypt of a missing file", []string{"decrypt", filepath.Join(dir, "missing")}, ""},
		{2, "unknown flag", []string{"key", "list", "--no-such-flag"}, ""},
		{2, "missing argument", []string{"fsck"}, ""},
		{3, "wrong passphrase", []string{"key", "list"}, "not the passphrase\n"},
		{3, "empty passphrase", []string{"key", "list"}, "\n"},
		{3, "missing passphrase", []string{"key", "list"}, "-"},
		{4, "no such key", []string{"key", "describe", "alias/no-such-key"}, ""},
		{4, "no keyring", []string{"--keyring", filepath.Join(dir, "no-keyring"), "key", "list"}, ""},
		{4, "uninitialised CIPHERDIR", []string{"fsck", emptyDir}, ""},
		{5, "disabled key", []string{"encrypt", "--key", disabled, "-o", filepath.Join(dir, "x"), plain}, ""},
		{6, "tampered file", []string{"decrypt", "-o", filepath.Join(dir, "out"), write("tampered", tampered)}, ""},
		{6, "truncated file", []string{"decrypt", "-o", filepath.Join(dir, "out"), write("cut", good[:len(good)/2])}, ""},
		{6, "foreign file", []string{"decrypt", "-o", filepath.Join(dir, "out"), write("foreign", bytes.Repeat([]byte("not kmsfs "), 500))}, ""},
		{6, "corrupt kmsfs.conf", []string{"fsck", badConf}, ""},
		{7, "keyring in use", []string{"key", "list"}, ""},
	}
	covered := map[int]bool{}
	for _, r := range rows {
		t.Run(strconv.Itoa(r.code)+"/"+r.name, func(t *testing.T) {
			if r.code == 7 {
				unlock := lockKeyring(t, v.keyring)
				defer unlock()
			}
			out, errOut, code := runExit(t, v, r.pass, r.args...)
			if code != r.code {
				t.Errorf("kmsfs %s: exit %d, want %d\n%s%s", strings.Join(r.args, " "), code, r.code, out, errOut)
			}
			if code != 0 && strings.Count(strings.TrimSpace(errOut), "\n") > 2 {
				t.Errorf("kmsfs %s: more than a short message on stderr:\n%s", strings.Join(r.args, " "), errOut)
			}
		})
		covered[r.code] = true
	}
	for _, code := range readmeExitCodes(t) {
		if !covered[code] {
			t.Errorf("README's exit code %d has no row here", code)
		}
	}
}

// runExit runs the binary on v's keyring with pass as the passphrase file's
// content ("" for v's, "-" for no passphrase at all), in a new session so
// that no terminal can be asked.
func runExit(t *testing.T, v *vol, pass string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	full := []string{"--keyring", v.keyring}
	switch pass {
	case "":
		full = append(full, "--passfile", v.passfile)
	case "-":
	default:
		p := filepath.Join(t.TempDir(), "pass")
		if err := os.WriteFile(p, []byte(pass), 0o600); err != nil {
			t.Fatal(err)
		}
		full = append(full, "--passfile", p)
	}
	cmd := exec.Command(kmsfsBin, append(full, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = environWithoutPassphrase()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("kmsfs %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// environWithoutPassphrase drops KMSFS_* variables (a passphrase there
// would answer where the test wants none).
func environWithoutPassphrase() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KMSFS_PASS") {
			out = append(out, kv)
		}
	}
	return out
}

// lockKeyring holds the keyring's lock as another process would.
func lockKeyring(t *testing.T, dir string) (unlock func()) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "kmsfs-keyring.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// createdKey returns the key ID in the --json output of key create.
func createdKey(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`"KeyId":\s*"([0-9a-f-]{36})"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no key ID in:\n%s", out)
	}
	return m[1]
}

// readmeExitCodes returns the codes of the README's exit-code table.
func readmeExitCodes(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "### Exit codes")
	if !ok {
		t.Fatal("README has no exit-code table")
	}
	var codes []int
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(table, -1) {
		n, _ := strconv.Atoi(m[1])
		if len(codes) > 0 && n <= codes[len(codes)-1] {
			break // the table ended; another began
		}
		codes = append(codes, n)
	}
	if len(codes) < 8 {
		t.Fatalf("README exit-code table: %v", codes)
	}
	return codes
}
