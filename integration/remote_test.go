package integration

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/testutil"
)

// freeLoopbackAddr returns a loopback address nothing listens on, for a
// server that must come back on the same port.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// remoteVol is a volume whose key lives in a `kmsfs serve` process, mounted
// with an access key of that server.
type remoteVol struct {
	*vol
	env []string
}

func newRemoteVol(t *testing.T, s *kmsServer, keyID, accessID, secret string) *remoteVol {
	t.Helper()
	testutil.RequireFUSE(t)
	base := t.TempDir()
	v := &vol{t: t, base: base, keyring: filepath.Join(base, "no-keyring"), passfile: filepath.Join(base, "no-pass"),
		cipher: filepath.Join(base, "cipher"), plain: filepath.Join(base, "plain"), log: filepath.Join(base, "mount.log")}
	if err := os.Mkdir(v.plain, 0o755); err != nil {
		t.Fatal(err)
	}
	rv := &remoteVol{vol: v, env: append(os.Environ(), "AWS_ACCESS_KEY_ID="+accessID, "AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")}
	args := []string{"init", "--kms-endpoint", s.endpoint, "--key-id", keyID}
	if plaintextNames() {
		args = append(args, "--plaintext-names")
	}
	rv.run(append(args, v.cipher)...)
	return rv
}

// run runs kmsfs with the volume's AWS credentials and no keyring.
func (rv *remoteVol) run(args ...string) string {
	rv.t.Helper()
	cmd := exec.Command(kmsfsBin, append([]string{"--keyring", rv.keyring}, args...)...)
	cmd.Env = rv.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		rv.t.Fatalf("kmsfs %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (rv *remoteVol) mountRemote() {
	rv.t.Helper()
	rv.run("mount", "--log", rv.log, rv.cipher, rv.plain)
	rv.t.Cleanup(func() {
		if rv.mounted() {
			exec.Command(kmsfsBin, "umount", rv.plain).Run()
		}
	})
}

func (rv *remoteVol) umountRemote() {
	rv.t.Helper()
	rv.run("umount", rv.plain)
	for deadline := time.Now().Add(10 * time.Second); rv.mounted(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			rv.t.Fatal("still mounted 10 s after umount")
		}
	}
}

// TestMountWithKeysFromServe: a volume whose key lives in another
// process's `kmsfs serve`, reached over TCP with SigV4, works as a local
// one; a dead server fails new opens (EIO, logged) while open files keep
// working, and comes back without a remount; a policy that denies the
// mount's principal Decrypt makes opens fail with EACCES.
func TestMountWithKeysFromServe(t *testing.T) {
	s := &kmsServer{t: t, listen: freeLoopbackAddr(t)}
	base := t.TempDir()
	s.dir, s.passfile = filepath.Join(base, "keyring"), filepath.Join(base, "pass")
	if err := os.WriteFile(s.passfile, []byte("server passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	s.run("key", "create", "--alias", "alias/fleet")
	mountID, mountSecret := s.accessKey("--name", "fleet-host")
	rv := newRemoteVol(t, s, "alias/fleet", mountID, mountSecret)
	conf, _ := os.ReadFile(filepath.Join(rv.cipher, "kmsfs.conf"))
	if strings.Contains(string(conf), mountSecret) || strings.Contains(string(conf), mountID) {
		t.Fatal("kmsfs.conf holds the credentials")
	}

	rv.mountRemote()
	sh(t, rv.plain, "mkdir -p d && seq 1 20000 > d/numbers && echo cold > cold && echo held > held")
	rv.umountRemote()
	rv.mountRemote() // a fresh mount: no data key is cached yet
	held, err := os.OpenFile(filepath.Join(rv.plain, "held"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if out := sh(t, rv.plain, "sha256sum d/numbers | cut -c1-16"); strings.TrimSpace(out) != strings.TrimSpace(sh(t, base, "seq 1 20000 | sha256sum | cut -c1-16")) {
		t.Fatal("numbers changed through the remote key")
	}

	s.stop()
	_, err = os.ReadFile(filepath.Join(rv.plain, "cold"))
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("open with the server down: %v, want EIO", err)
	}
	if _, err := held.WriteAt([]byte("still"), 0); err != nil {
		t.Errorf("a file open before the server went away: %v", err)
	}
	if log, _ := os.ReadFile(rv.log); !strings.Contains(string(log), "KMS") {
		t.Errorf("nothing logged about the unreachable KMS:\n%s", log)
	}

	s.start()
	if b, err := os.ReadFile(filepath.Join(rv.plain, "cold")); err != nil || string(b) != "cold\n" {
		t.Errorf("after the server came back: %q, %v", b, err)
	}

	// Deny the mount's principal Decrypt of file data keys (their
	// encryption context names the file); a fresh mount still reads its
	// names (the name key's context has no file ID) but opens no file.
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"no file keys for the host","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/fleet-host"},
	  "Action":"kms:Decrypt","Resource":"*","Condition":{"Null":{"kms:EncryptionContext:kmsfs:file-id":"false"}}}]}`
	pf := filepath.Join(base, "policy.json")
	if err := os.WriteFile(pf, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	s.run("key", "policy", "put", "alias/fleet", pf)
	held.Close()
	rv.umountRemote()
	rv.mountRemote()
	_, err = os.ReadFile(filepath.Join(rv.plain, "cold"))
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("open with Decrypt denied by the key policy: %v, want EACCES", err)
	}
	rv.umountRemote()
}

// TestRemoteRewrapMovesKeys: `kmsfs rewrap --key` moves a remote-KMS tree
// to another key with ReEncrypt, refusing (as fsck --repair does) while
// the tree is mounted; fsck checks it through the KMS; the old key can
// then be disabled without losing a file.
func TestRemoteRewrapMovesKeys(t *testing.T) {
	s := startServer(t)
	s.run("key", "create", "--alias", "alias/old")
	s.run("key", "create", "--alias", "alias/new")
	id, secret := s.accessKey("--name", "host")
	rv := newRemoteVol(t, s, "alias/old", id, secret)
	rv.mountRemote()
	sh(t, rv.plain, "mkdir d && for i in $(seq 1 30); do echo file $i > d/f$i; done")
	cmd := exec.Command(kmsfsBin, "--keyring", rv.keyring, "rewrap", "--key", "alias/new", rv.cipher)
	cmd.Env = rv.env
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "mounted") {
		t.Errorf("rewrap of a mounted remote volume: %v: %s", err, out)
	}
	cmd = exec.Command(kmsfsBin, "--keyring", rv.keyring, "fsck", "--repair", rv.cipher)
	cmd.Env = rv.env
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "mounted") {
		t.Errorf("fsck --repair of a mounted remote volume: %v: %s", err, out)
	}
	rv.umountRemote()

	out := rv.run("rewrap", "--key", "alias/new", rv.cipher)
	if !strings.Contains(out, "30 rewrapped") {
		t.Errorf("rewrap: %s", out)
	}
	conf, _ := os.ReadFile(filepath.Join(rv.cipher, "kmsfs.conf"))
	newARN := strings.TrimSpace(s.run("key", "describe", "alias/new"))
	if !strings.Contains(string(conf), "key/") || strings.Contains(newARN, "") && !containsKeyOf(string(conf), newARN) {
		t.Errorf("kmsfs.conf does not name the new key:\n%s", conf)
	}
	if out := rv.run("fsck", rv.cipher); !strings.Contains(out, "0 with problems") {
		t.Errorf("fsck of the moved tree: %s", out)
	}
	if again := rv.run("rewrap", rv.cipher); !strings.Contains(again, "0 rewrapped") {
		t.Errorf("a second rewrap changed files: %s", again)
	}
	s.run("key", "disable", "alias/old")
	rv.mountRemote()
	if got := sh(t, rv.plain, "cat d/f7"); got != "file 7\n" {
		t.Errorf("after the move: %q", got)
	}
	rv.umountRemote()
}

// containsKeyOf reports whether conf names a key ID that appears in the
// output of `kmsfs key describe`.
func containsKeyOf(conf, describe string) bool {
	for _, f := range strings.Fields(describe) {
		if len(f) == 36 && strings.Count(f, "-") == 4 && strings.Contains(conf, f) {
			return true
		}
	}
	return false
}
