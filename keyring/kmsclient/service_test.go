package kmsclient_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/memfile"
	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
	"github.com/kmsfs/kmsfs/keyring/kmsclient"
	"github.com/kmsfs/kmsfs/keyring/local"
)

const volumeID = "00112233445566778899aabbccddeeff"

var bg = context.Background()

// server is a kmsfs keyring served over loopback HTTP with the AWS KMS
// protocol, counting requests by operation.
type server struct {
	kr    *local.Keyring
	url   string
	keyID string // the key's ID as CreateKey returned it
	arn   string
	mu    sync.Mutex
	ops   map[string]int
	block atomic.Bool // hang every request until the client gives up
}

func newServer(t testing.TB) *server {
	t.Helper()
	kr, err := local.Open(filepath.Join(t.TempDir(), "keyring"), []byte("pw"), local.Options{Create: true, KDF: testkeys.KDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	meta, err := kr.CreateKey(bg, &keyring.CreateKeyInput{Description: "remote volume key"})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{kr: kr, keyID: meta.KeyMetadata.KeyId, arn: meta.KeyMetadata.Arn, ops: map[string]int{}}
	h := kmsapi.NewHandler(kr, kmsapi.HandlerOptions{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.block.Load() {
			// Read the body first: only then does the server notice the
			// client hanging up, which cancels r.Context().
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		s.mu.Lock()
		s.ops[r.Header.Get("X-Amz-Target")]++
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// count returns how many requests of op ("Decrypt", ...) were served.
func (s *server) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ops["TrentService."+op]
}

// client is the real AWS SDK KMS client for url, with static credentials.
func client(url string) *kms.Client {
	return kms.New(kms.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

func newService(t testing.TB, s *server, mod func(*kmsclient.Config)) *kmsclient.Service {
	t.Helper()
	cfg := kmsclient.Config{KeyID: s.keyID, VolumeID: volumeID, Endpoint: s.url, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	ks, err := kmsclient.New(client(cfg.Endpoint), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

func noCache(c *kmsclient.Config) { c.Cache.Disabled = true }

// writeFile makes a version 2 file of n bytes through ks.
func writeFile(t *testing.T, ks envelope.KeyService, n int) (ct, plain []byte) {
	t.Helper()
	b := &memfile.File{}
	f, err := envelope.Create(bg, b, ks, envelope.MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	plain = bytes.Repeat([]byte("remote kms "), n/11+1)[:n]
	if _, err := f.WriteAt(plain, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), plain
}

func readFile(ks envelope.KeyService, ct []byte) ([]byte, error) {
	f, err := envelope.Open(bg, memfile.New(ct), ks, envelope.MinChunkSize)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([]byte, f.Size())
	if _, err := f.ReadAt(out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func TestRoundTrip(t *testing.T) {
	s := newServer(t)
	ks := newService(t, s, noCache)
	for _, n := range []int{1, envelope.MinChunkSize, 3*envelope.MinChunkSize + 7} {
		ct, plain := writeFile(t, ks, n)
		got, err := readFile(ks, ct)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("n=%d: read back %d bytes, %v", n, len(got), err)
		}
		h, err := envelope.ReadHeader(bg, memfile.New(ct), ks)
		if err != nil || h.Kind != envelope.KindKMS || h.KeyRef != kmsclient.RefOf(s.keyID) {
			t.Fatalf("header %+v, %v; want a KMS slot naming %s", h, err, s.keyID)
		}
	}
	if s.count("Encrypt") == 0 || s.count("Decrypt") == 0 {
		t.Fatalf("ops = %v: want Encrypt and Decrypt", s.ops)
	}
	for op := range s.ops {
		if op == "TrentService.WrapDEK" || op == "TrentService.UnwrapDEK" {
			t.Fatalf("called the kmsfs-only %s", op)
		}
	}
}

// TestContextBinding: a blob is bound to its file and volume; moved
// anywhere else it fails as ErrUnauthenticated.
func TestContextBinding(t *testing.T) {
	s := newServer(t)
	ks := newService(t, s, noCache)
	a, _ := writeFile(t, ks, 100)
	b, _ := writeFile(t, ks, 100)
	moved := bytes.Clone(b)
	copy(moved[envelope.PreambleSize:envelope.HeaderSize], a[envelope.PreambleSize:envelope.HeaderSize])
	if _, err := readFile(ks, moved); !errors.Is(err, envelope.ErrUnauthenticated) {
		t.Fatalf("slots moved to another file: err = %v, want ErrUnauthenticated", err)
	}
	other := newService(t, s, func(c *kmsclient.Config) { noCache(c); c.VolumeID = "ffeeddccbbaa99887766554433221100" })
	if _, err := readFile(other, a); !errors.Is(err, envelope.ErrUnauthenticated) {
		t.Fatalf("file read in another volume: err = %v, want ErrUnauthenticated", err)
	}
	ref, blob, err := ks.WrapKey(bg, make([]byte, 32), []byte("name key aad"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.UnwrapKey(bg, ref, blob, []byte("other aad")); !errors.Is(err, envelope.ErrUnauthenticated) {
		t.Fatalf("other aad: err = %v, want ErrUnauthenticated", err)
	}
}

func TestCacheAvoidsRequests(t *testing.T) {
	s := newServer(t)
	ks := newService(t, s, nil)
	ct, plain := writeFile(t, ks, 5000)
	for range 5 {
		got, err := readFile(ks, ct)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatal(err)
		}
	}
	if n := s.count("Decrypt"); n != 0 {
		t.Fatalf("%d Decrypt calls for a file this service wrapped, want 0 (cache)", n)
	}
	if st := ks.CacheStats(); st.Hits < 5 {
		t.Fatalf("stats %+v: want at least 5 hits", st)
	}
}

func TestCacheMaxAge(t *testing.T) {
	s := newServer(t)
	var now atomic.Int64
	now.Store(time.Unix(1e9, 0).UnixNano())
	ks := newService(t, s, func(c *kmsclient.Config) {
		c.Cache.MaxAge = time.Minute
		c.Now = func() time.Time { return time.Unix(0, now.Load()) }
	})
	ct, _ := writeFile(t, ks, 100)
	if _, err := readFile(ks, ct); err != nil || s.count("Decrypt") != 0 {
		t.Fatalf("fresh entry: %v, %d Decrypts", err, s.count("Decrypt"))
	}
	now.Add(int64(2 * time.Minute))
	if _, err := readFile(ks, ct); err != nil || s.count("Decrypt") != 1 {
		t.Fatalf("expired entry: %v, %d Decrypts, want 1", err, s.count("Decrypt"))
	}
	if st := ks.CacheStats(); st.Expired != 1 {
		t.Fatalf("stats %+v: want 1 expired", st)
	}
}

func TestCacheMaxUses(t *testing.T) {
	s := newServer(t)
	ks := newService(t, s, func(c *kmsclient.Config) { c.Cache.MaxUses = 2 })
	ct, _ := writeFile(t, ks, 100)
	for i, want := range []int{0, 0, 1, 1, 1, 2} {
		if _, err := readFile(ks, ct); err != nil {
			t.Fatal(err)
		}
		if got := s.count("Decrypt"); got != want {
			t.Fatalf("open %d: %d Decrypts, want %d", i+1, got, want)
		}
	}
}

func TestCacheMaxEntries(t *testing.T) {
	s := newServer(t)
	ks := newService(t, s, func(c *kmsclient.Config) { c.Cache.MaxEntries = 2 })
	var cts [][]byte
	for range 3 {
		ct, _ := writeFile(t, ks, 10)
		cts = append(cts, ct)
	}
	if _, err := readFile(ks, cts[0]); err != nil || s.count("Decrypt") != 1 {
		t.Fatalf("oldest entry: %v, %d Decrypts, want 1 (evicted)", err, s.count("Decrypt"))
	}
	if st := ks.CacheStats(); st.Evicted == 0 {
		t.Fatalf("stats %+v: want evictions", st)
	}
}

// TestServerDown: a KMS that does not answer makes the call fail within
// the timeout, classified unavailable; one that is gone fails at once.
func TestServerDown(t *testing.T) {
	s := newServer(t)
	ks := newService(t, s, func(c *kmsclient.Config) { noCache(c); c.Timeout = 300 * time.Millisecond })
	ct, _ := writeFile(t, ks, 100)
	s.block.Store(true)
	start := time.Now()
	_, err := readFile(ks, ct)
	if !errors.Is(err, kmsclient.ErrTimeout) || !errors.Is(err, envelope.ErrKeyUnavailable) {
		t.Fatalf("hanging server: err = %v, want ErrTimeout and ErrKeyUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("hanging server: failed after %v, want about the 300ms timeout", d)
	}
	s.block.Store(false) // the KMS is back: the same service recovers
	if _, err := readFile(ks, ct); err != nil {
		t.Fatalf("after the KMS came back: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	gone := newService(t, s, func(c *kmsclient.Config) { noCache(c); c.Endpoint = dead })
	if _, err := readFile(gone, ct); !errors.Is(err, envelope.ErrKeyUnavailable) || errors.Is(err, envelope.ErrUnauthenticated) {
		t.Fatalf("no server: err = %v, want ErrKeyUnavailable", err)
	}
}

// TestDisabledKey: a disabled key is the key-state class (EACCES in fs);
// files already open, and cached keys, keep working.
func TestDisabledKey(t *testing.T) {
	s := newServer(t)
	cached := newService(t, s, nil)
	ks := newService(t, s, noCache)
	ct, plain := writeFile(t, cached, 100)
	open, err := envelope.Open(bg, memfile.New(ct), ks, envelope.MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := s.kr.DisableKey(bg, &keyring.KeyIDInput{KeyId: s.keyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := readFile(ks, ct); !errors.Is(err, envelope.ErrKeyDenied) {
		t.Fatalf("disabled key: err = %v, want ErrKeyDenied", err)
	}
	if _, _, err := ks.WrapKey(bg, make([]byte, 32), []byte("x")); !errors.Is(err, envelope.ErrKeyDenied) {
		t.Fatalf("wrap under a disabled key: err = %v, want ErrKeyDenied", err)
	}
	got := make([]byte, len(plain))
	if _, err := open.ReadAt(got, 0); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open file after disable: %v", err)
	}
	if _, err := readFile(cached, ct); err != nil {
		t.Fatalf("cached key after disable: %v", err)
	}
	if _, err := ks.Describe(bg); !errors.Is(err, kmsclient.ErrBadKey) || !errors.Is(err, envelope.ErrKeyDenied) {
		t.Fatalf("Describe of a disabled key: %v", err)
	}
}

// TestRewrapReEncrypts moves a file to another key with ReEncrypt: both
// slots name the new key, the DEK did not travel again, the file reads.
func TestRewrapReEncrypts(t *testing.T) {
	s := newServer(t)
	ks := newService(t, s, nil)
	ct, plain := writeFile(t, ks, 5000)
	meta, err := s.kr.CreateKey(bg, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	to := ks.ForKey(meta.KeyMetadata.KeyId)
	b := memfile.New(ct)
	encrypts := s.count("Encrypt")
	changed, old, now, err := envelope.RewrapFile(bg, b, ks, to, true)
	if err != nil || !changed || old != kmsclient.RefOf(s.keyID) || now != kmsclient.RefOf(meta.KeyMetadata.KeyId) {
		t.Fatalf("RewrapFile = %v, %v -> %v, %v", changed, old, now, err)
	}
	if s.count("ReEncrypt") != 1 || s.count("Encrypt") != encrypts {
		t.Fatalf("ops %v: want one ReEncrypt and no Encrypt", s.ops)
	}
	refs, err := envelope.ReadSlotRefs(b)
	if err != nil || len(refs.All) != 2 || refs.All[0] != now || refs.All[1] != now {
		t.Fatalf("slot refs %+v, %v", refs, err)
	}
	fresh := newService(t, s, noCache)
	if got, err := readFile(fresh.ForKey(meta.KeyMetadata.KeyId), b.Bytes()); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("after rewrap: %v", err)
	}
}

func TestCheck(t *testing.T) {
	s := newServer(t)
	info, err := newService(t, s, nil).Check(bg)
	if err != nil || info.ARN != s.arn || info.Ref != kmsclient.RefOf(s.keyID) || info.State != "Enabled" {
		t.Fatalf("Check = %+v, %v", info, err)
	}
	if _, err := newService(t, s, func(c *kmsclient.Config) { c.KeyID = "alias/missing" }).Check(bg); !errors.Is(err, envelope.ErrKeyUnavailable) {
		t.Fatalf("missing key: %v, want ErrKeyUnavailable", err)
	}
}

func TestRefOf(t *testing.T) {
	const id = "1234abcd-12ab-34cd-56ef-1234567890ab"
	want := kmsclient.RefOf(id)
	for _, s := range []string{"arn:aws:kms:us-east-2:111122223333:key/" + id, id} {
		if got := kmsclient.RefOf(s); got != want || got.Version != 0 {
			t.Errorf("RefOf(%q) = %v, want %v", s, got, want)
		}
	}
	mrk := kmsclient.RefOf("arn:aws:kms:us-east-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab")
	if mrk.KeyID != [16]byte{0x12, 0x34, 0xab, 0xcd, 0x12, 0xab, 0x34, 0xcd, 0x56, 0xef, 0x12, 0x34, 0x56, 0x78, 0x90, 0xab} {
		t.Errorf("multi-region key ref %v", mrk)
	}
	if a, b := kmsclient.RefOf("alias/a"), kmsclient.RefOf("alias/b"); a == b {
		t.Errorf("aliases share a ref")
	}
}

func TestNewRejects(t *testing.T) {
	for name, cfg := range map[string]kmsclient.Config{
		"no key":        {VolumeID: volumeID},
		"bad volume ID": {KeyID: "k", VolumeID: "xyz"},
	} {
		if _, err := kmsclient.New(client("http://127.0.0.1:1"), cfg); !errors.Is(err, kmsclient.ErrBadConfig) {
			t.Errorf("%s: err = %v, want ErrBadConfig", name, err)
		}
	}
}

// TestFailureLogged: a refused call leaves one warning naming the
// operation, the endpoint and the AWS error, and no key material.
func TestFailureLogged(t *testing.T) {
	s := newServer(t)
	var buf bytes.Buffer
	ks := newService(t, s, func(c *kmsclient.Config) {
		noCache(c)
		c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	})
	dek := bytes.Repeat([]byte{0xA5}, 32)
	ref, blob, err := ks.WrapKey(bg, dek, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.kr.DisableKey(bg, &keyring.KeyIDInput{KeyId: s.keyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.UnwrapKey(bg, ref, blob, []byte("x")); !errors.Is(err, envelope.ErrKeyDenied) {
		t.Fatalf("err = %v, want ErrKeyDenied", err)
	}
	log := buf.String()
	for _, want := range []string{`msg="KMS call failed"`, "op=Decrypt", "endpoint=" + s.url, "DisabledException"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, hex.EncodeToString(dek)) || strings.Contains(log, base64.StdEncoding.EncodeToString(blob)) {
		t.Errorf("log holds key material:\n%s", log)
	}
}

// TestConcurrentUnwrap: many opens of many files at once share the cache
// safely (run with -race) and all get their own key.
func TestConcurrentUnwrap(t *testing.T) {
	s := newServer(t)
	ks := newService(t, s, func(c *kmsclient.Config) { c.Cache.MaxEntries = 4; c.Cache.MaxUses = 3 })
	type file struct{ ct, plain []byte }
	var files []file
	for i := range 8 {
		ct, plain := writeFile(t, ks, 100+i)
		files = append(files, file{ct, plain})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			f := files[i%len(files)]
			got, err := readFile(ks, f.ct)
			if err == nil && !bytes.Equal(got, f.plain) {
				err = errors.New("wrong plaintext")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
