package local_test

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

var bundlePass = []byte("bundle passphrase")

// export seals env's keyring into a bundle with cheap KDF parameters.
func (env *testEnv) export() []byte {
	env.t.Helper()
	out, err := env.kr.ExportKeyring(ctxb(), &keyring.ExportKeyringInput{
		KeyringPassphrase: testPass, Passphrase: bundlePass, KDF: testkeys.KDF})
	if err != nil {
		env.t.Fatalf("ExportKeyring: %v", err)
	}
	return out.Bundle
}

func (env *testEnv) importBundle(b []byte, replace bool) (*keyring.ImportKeyringOutput, error) {
	return env.kr.ImportKeyring(ctxb(), &keyring.ImportKeyringInput{KeyringPassphrase: testPass, Bundle: b, Passphrase: bundlePass, ReplaceAliases: replace})
}

// state is everything a key listing shows, to compare two keyrings.
func (env *testEnv) state() string {
	env.t.Helper()
	var b strings.Builder
	keys, err := env.kr.ListKeys(ctxb(), &keyring.ListInput{})
	if err != nil {
		env.t.Fatal(err)
	}
	for _, k := range keys.Keys {
		m := env.describe(k.KeyId)
		rot, err := env.kr.GetKeyRotationStatus(ctxb(), &keyring.KeyIDInput{KeyId: k.KeyId})
		if err != nil {
			env.t.Fatal(err)
		}
		rots, err := env.kr.ListKeyRotations(ctxb(), &keyring.ListKeyRotationsInput{KeyId: k.KeyId})
		if err != nil {
			env.t.Fatal(err)
		}
		b.WriteString(fmtMeta(m, rot, rots))
	}
	aliases, err := env.kr.ListAliases(ctxb(), &keyring.ListAliasesInput{})
	if err != nil {
		env.t.Fatal(err)
	}
	for _, a := range aliases.Aliases {
		b.WriteString(a.AliasName + " -> " + a.TargetKeyId + " " + a.CreationDate.UTC().String() + "\n")
	}
	return b.String()
}

func fmtMeta(m keyring.KeyMetadata, rot *keyring.GetKeyRotationStatusOutput, rots *keyring.ListKeyRotationsOutput) string {
	s := m.KeyId + " " + m.KeyState + " " + m.Description + " " + m.CreationDate.UTC().String() +
		" v" + itoa(m.CurrentKeyVersion) + " min" + itoa(m.MinimumDecryptionVersion)
	if m.DeletionDate != nil {
		s += " deletes " + m.DeletionDate.UTC().String()
	}
	if rot.KeyRotationEnabled {
		s += " rotates every " + itoa(uint32(rot.RotationPeriodInDays)) + " next " + rot.NextRotationDate.UTC().String()
	}
	for _, r := range rots.Rotations {
		s += " [" + itoa(r.KeyVersion) + " " + r.RotationType + " " + r.RotationDate.UTC().String() + "]"
	}
	return s + "\n"
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// sample is a keyring with keys in every state and the ciphertexts they
// made.
type sample struct {
	env                              *testEnv
	retired, disabled, pending, used string
	blobs                            map[string][][]byte // key -> blobs still decryptable
	oldBlob                          []byte              // under a retired, destroyed version
	wrapped                          []*keyring.UnwrapDEKInput
	deks                             [][]byte
}

func newSample(t *testing.T) *sample {
	t.Helper()
	s := &sample{env: newEnv(t), blobs: map[string][][]byte{}}
	env := s.env
	ctx := ctxb()
	s.retired, s.disabled, s.pending, s.used = env.createKey(), env.createKey(), env.createKey(), env.createKey()
	s.oldBlob = env.encrypt(s.retired, []byte("v1 secret"), nil)
	for range 2 {
		env.clock.Advance(time.Hour)
		if _, err := env.kr.RotateKeyOnDemand(ctx, &keyring.KeyIDInput{KeyId: s.retired}); err != nil {
			t.Fatal(err)
		}
		s.blobs[s.retired] = append(s.blobs[s.retired], env.encrypt(s.retired, []byte("newer secret"), map[string]string{"a": "b"}))
	}
	must(t, env.kr.SetMinDecryptionVersion(ctx, s.retired, 2))
	must(t, env.kr.DestroyVersionsBelow(ctx, s.retired, 2))
	for _, id := range []string{s.disabled, s.pending, s.used} {
		s.blobs[id] = append(s.blobs[id], env.encrypt(id, []byte("secret of "+id), nil))
	}
	for _, a := range []struct{ name, key string }{{"alias/retired", s.retired}, {"alias/fs", s.used}, {"alias/gone", s.pending}} {
		must(t, env.kr.CreateAlias(ctx, &keyring.AliasInput{AliasName: a.name, TargetKeyId: a.key}))
	}
	must(t, env.kr.EnableKeyRotation(ctx, &keyring.EnableKeyRotationInput{KeyId: s.disabled, RotationPeriodInDays: 90}))
	must(t, env.kr.DisableKey(ctx, &keyring.KeyIDInput{KeyId: s.disabled}))
	if _, err := env.kr.ScheduleKeyDeletion(ctx, &keyring.ScheduleKeyDeletionInput{KeyId: s.pending, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		dek := bytes.Repeat([]byte{byte(i + 1)}, 32)
		aad := []byte{byte(i)}
		w, err := env.kr.WrapDEK(ctx, &keyring.WrapDEKInput{KeyId: s.used, Plaintext: dek, AAD: aad})
		if err != nil {
			t.Fatal(err)
		}
		s.deks = append(s.deks, dek)
		s.wrapped = append(s.wrapped, &keyring.UnwrapDEKInput{KeyId: w.KeyId, KeyVersion: w.KeyVersion, WrappedKey: w.WrappedKey, AAD: aad})
	}
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestExportImportRoundTrip restores a bundle into a fresh keyring (with
// another passphrase) and checks that every key, version, state, rotation
// setting and alias came across, that every old blob decrypts and every
// old wrapped DEK unwraps, and that the new keyring keeps its own audit log.
func TestExportImportRoundTrip(t *testing.T) {
	s := newSample(t)
	want := s.env.state()
	bundle := s.env.export()

	dst := newEnv(t)
	dst.clock.Advance(2 * time.Hour) // the same time as the source, give or take
	out, err := dst.importBundle(bundle, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.KeysAdded) != 4 || out.VersionsAdded != 2+1+1+1 || len(out.AliasesAdded) != 3 ||
		len(out.KeysMerged)+len(out.KeysUnchanged)+len(out.KeysExpired) != 0 {
		t.Fatalf("summary %+v", out)
	}
	if got := dst.state(); got != want {
		t.Fatalf("restored keyring differs:\n got %s\nwant %s", got, want)
	}
	dst.reopen() // the import is durable
	if got := dst.state(); got != want {
		t.Fatalf("restored keyring differs after reopen:\n got %s\nwant %s", got, want)
	}
	s.checkUsable(t, dst)
	checkOwnAuditLog(t, dst)
}

// checkUsable makes every sample key usable in env and checks the
// ciphertexts made by the sample's keyring.
func (s *sample) checkUsable(t *testing.T, env *testEnv) {
	t.Helper()
	ctx := ctxb()
	if _, err := env.decrypt(s.oldBlob, nil); !errors.Is(err, keyring.ErrVersionRetired) {
		t.Errorf("blob under a retired version: %v, want ErrVersionRetired", err)
	}
	if _, err := env.kr.CancelKeyDeletion(ctx, &keyring.KeyIDInput{KeyId: s.pending}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{s.disabled, s.pending} {
		must(t, env.kr.EnableKey(ctx, &keyring.KeyIDInput{KeyId: id}))
	}
	for id, blobs := range s.blobs {
		for _, b := range blobs {
			ec := map[string]string(nil)
			if id == s.retired {
				ec = map[string]string{"a": "b"}
			}
			if _, err := env.decrypt(b, ec); err != nil {
				t.Errorf("key %s: old blob: %v", id, err)
			}
		}
	}
	for i, w := range s.wrapped {
		out, err := env.kr.UnwrapDEK(ctx, w)
		if err != nil || !bytes.Equal(out.Plaintext, s.deks[i]) {
			t.Errorf("old wrapped DEK %d: %v", i, err)
		}
	}
}

func checkOwnAuditLog(t *testing.T, env *testEnv) {
	t.Helper()
	recs, err := env.kr.Audit(ctxb(), keyring.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range recs {
		ops = append(ops, r.Op)
	}
	if slices.Contains(ops, "WrapDEK") || slices.Contains(ops, "ScheduleKeyDeletion") || !slices.Contains(ops, "ImportKey") {
		t.Errorf("destination audit log holds %v: want its own records only", ops)
	}
	must(t, env.kr.VerifyAudit(ctxb()))
}

// TestImportMerge imports an older bundle, then a newer one of the same
// keyring: the second adds only the new versions and aliases and keeps
// the destination's own key metadata; a third import changes nothing.
func TestImportMerge(t *testing.T) {
	src := newEnv(t)
	id := src.createKey()
	first := src.export()
	for range 2 {
		if _, err := src.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
			t.Fatal(err)
		}
	}
	must(t, src.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/new", TargetKeyId: id}))
	blob := src.encrypt(id, []byte("made with version 3"), nil)
	second := src.export()

	dst := newEnv(t)
	if _, err := dst.importBundle(first, false); err != nil {
		t.Fatal(err)
	}
	must(t, dst.kr.DisableKey(ctxb(), &keyring.KeyIDInput{KeyId: id}))
	out, err := dst.importBundle(second, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.KeysMerged, []string{id}) || out.VersionsAdded != 2 || !slices.Equal(out.AliasesAdded, []string{"alias/new"}) {
		t.Fatalf("merge summary %+v", out)
	}
	if m := dst.describe("alias/new"); m.CurrentKeyVersion != 3 || m.KeyState != keyring.StateDisabled {
		t.Fatalf("merged key %+v: want version 3, still Disabled", m)
	}
	must(t, dst.kr.EnableKey(ctxb(), &keyring.KeyIDInput{KeyId: id}))
	if pt, err := dst.decrypt(blob, nil); err != nil || string(pt) != "made with version 3" {
		t.Fatalf("blob under a merged version: %q, %v", pt, err)
	}
	before := dst.state()
	out, err = dst.importBundle(second, false)
	if err != nil || !slices.Equal(out.KeysUnchanged, []string{id}) || out.VersionsAdded != 0 ||
		!slices.Equal(out.AliasesUnchanged, []string{"alias/new"}) {
		t.Fatalf("re-import: %+v, %v", out, err)
	}
	if dst.state() != before {
		t.Fatal("re-import changed the keyring")
	}
}

// TestImportAliasClash refuses, changing nothing, a bundle whose alias
// points elsewhere here, and repoints it with ReplaceAliases.
func TestImportAliasClash(t *testing.T) {
	src := newEnv(t)
	theirs := src.createKey()
	must(t, src.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: theirs}))
	bundle := src.export()

	dst := newEnv(t)
	mine := dst.createKey()
	must(t, dst.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/fs", TargetKeyId: mine}))
	before := dst.state()
	_, err := dst.importBundle(bundle, false)
	wantErr(t, "import with a clashing alias", err, keyring.ErrAlreadyExists)
	if !strings.Contains(err.Error(), "alias/fs") {
		t.Errorf("error %q does not name the alias", err)
	}
	if dst.state() != before {
		t.Fatal("a refused import changed the keyring")
	}
	out, err := dst.importBundle(bundle, true)
	if err != nil || !slices.Equal(out.AliasesReplaced, []string{"alias/fs"}) || !slices.Equal(out.KeysAdded, []string{theirs}) {
		t.Fatalf("import with ReplaceAliases: %+v, %v", out, err)
	}
	if m := dst.describe("alias/fs"); m.KeyId != theirs {
		t.Fatalf("alias/fs points to %s, want %s", m.KeyId, theirs)
	}
}

// TestImportExpiredKey skips a key whose deletion date passed before the
// import, and its aliases, rather than restore it only to delete it.
func TestImportExpiredKey(t *testing.T) {
	src := newEnv(t)
	gone, kept := src.createKey(), src.createKey()
	must(t, src.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/gone", TargetKeyId: gone}))
	if _, err := src.kr.ScheduleKeyDeletion(ctxb(), &keyring.ScheduleKeyDeletionInput{KeyId: gone, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	bundle := src.export()
	dst := newEnv(t)
	dst.clock.Advance(8 * 24 * time.Hour)
	out, err := dst.importBundle(bundle, false)
	if err != nil || !slices.Equal(out.KeysExpired, []string{gone}) || !slices.Equal(out.KeysAdded, []string{kept}) ||
		!slices.Equal(out.AliasesSkipped, []string{"alias/gone"}) {
		t.Fatalf("import: %+v, %v", out, err)
	}
	if _, err := dst.kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: gone}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("expired key: %v, want ErrNotFound", err)
	}
}

// TestBundleTamper flips, truncates and extends a bundle: each change fails
// with a named error and imports nothing.
func TestBundleTamper(t *testing.T) {
	src := newEnv(t)
	src.createKey()
	bundle := src.export()
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte { b[i] ^= 0x01; return b }
	}
	n := len(bundle)
	tests := []struct {
		name   string
		change func([]byte) []byte
		want   error
	}{
		{"magic", flip(0), keyring.ErrBundleCorrupt},
		{"format version", flip(7), keyring.ErrBundleCorrupt},
		{"argon2 time", func(b []byte) []byte { b[11] = 2; return b }, keyring.ErrWrongPassphrase},
		{"argon2 memory out of range", func(b []byte) []byte { b[12] = 0xff; return b }, keyring.ErrBundleCorrupt},
		{"argon2 threads", func(b []byte) []byte { b[16] = 0; return b }, keyring.ErrBundleCorrupt},
		{"salt", flip(17), keyring.ErrWrongPassphrase},
		{"passphrase check", flip(49 + 31), keyring.ErrWrongPassphrase},
		{"nonce", flip(81), keyring.ErrBundleCorrupt},
		{"ciphertext", flip(local.BundleHeaderSize + 5), keyring.ErrBundleCorrupt},
		{"tag", flip(n - 1), keyring.ErrBundleCorrupt},
		{"truncated by one", func(b []byte) []byte { return b[:n-1] }, keyring.ErrBundleCorrupt},
		{"extended by one", func(b []byte) []byte { return append(b, 0) }, keyring.ErrBundleCorrupt},
		{"header only", func(b []byte) []byte { return b[:local.BundleOverhead-1] }, keyring.ErrBundleCorrupt},
		{"empty", func([]byte) []byte { return nil }, keyring.ErrBundleCorrupt},
	}
	dst := newEnv(t)
	before := dst.state()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.change(bytes.Clone(bundle))
			_, err := dst.importBundle(b, false)
			wantErr(t, "ImportKeyring", err, tc.want)
			if errors.Is(tc.want, keyring.ErrBundleCorrupt) && !errors.Is(err, keyring.ErrInvalidCiphertext) {
				t.Errorf("%v does not also match ErrInvalidCiphertext", err)
			}
			_, err = local.InspectBundle(b, bundlePass)
			wantErr(t, "InspectBundle", err, tc.want)
		})
	}
	if dst.state() != before {
		t.Fatal("a refused import changed the keyring")
	}
}

func TestBundlePassphrases(t *testing.T) {
	src := newEnv(t)
	src.createKey()
	bundle := src.export()
	_, err := src.kr.ImportKeyring(ctxb(), &keyring.ImportKeyringInput{KeyringPassphrase: testPass, Bundle: bundle, Passphrase: []byte("wrong")})
	wantErr(t, "import with a wrong bundle passphrase", err, keyring.ErrWrongPassphrase)
	_, err = src.kr.ExportKeyring(ctxb(), &keyring.ExportKeyringInput{KeyringPassphrase: []byte("wrong"), Passphrase: bundlePass, KDF: testkeys.KDF})
	wantErr(t, "export with a wrong keyring passphrase", err, keyring.ErrWrongPassphrase)
	_, err = src.kr.ExportKeyring(ctxb(), &keyring.ExportKeyringInput{KeyringPassphrase: testPass, KDF: testkeys.KDF})
	wantErr(t, "export with an empty bundle passphrase", err, keyring.ErrValidation)
	_, err = src.kr.ExportKeyring(ctxb(), &keyring.ExportKeyringInput{KeyringPassphrase: testPass, Passphrase: bundlePass,
		KDF: keyring.KDFParams{Time: 1, MemoryKiB: 2 << 20, Threads: 1}})
	wantErr(t, "export with a huge KDF", err, keyring.ErrValidation)
	info, err := local.InspectBundle(bundle, bundlePass)
	if err != nil || info.Keys != 1 || info.Versions != 1 || info.Aliases != 0 || !info.Created.Equal(src.clock.Now()) {
		t.Fatalf("InspectBundle: %+v, %v", info, err)
	}
	recs, err := src.kr.Audit(ctxb(), keyring.AuditFilter{Op: "ExportKeyring"})
	if err != nil || len(recs) != 4 || recs[0].Outcome != "Success" || recs[1].Outcome != "AccessDeniedException" ||
		recs[2].Outcome != "ValidationException" {
		t.Fatalf("export audit records: %+v, %v", recs, err)
	}
}

// TestBundleLayout checks the header fields, that the payload is not in
// clear, and that every export draws a fresh salt and nonce.
func TestBundleLayout(t *testing.T) {
	src := newEnv(t)
	src.createKey()
	bundle := src.export()
	h, err := local.ParseBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if h.KDF != testkeys.KDF || string(bundle[:8]) != local.BundleMagic || !bytes.Equal(h.Marshal(), bundle) {
		t.Fatalf("header %+v", h)
	}
	if bytes.Contains(bundle, []byte("Versions")) || bytes.Contains(bundle, []byte("alias/")) {
		t.Fatal("bundle payload is not encrypted")
	}
	again := src.export()
	if bytes.Equal(again[17:49], bundle[17:49]) || bytes.Equal(again[81:93], bundle[81:93]) {
		t.Fatal("two exports share a salt or nonce")
	}
}

// TestImportConcurrentUse imports bundles while other goroutines unwrap
// and encrypt under keys being merged: run with -race.
func TestImportConcurrentUse(t *testing.T) {
	src := newEnv(t)
	id := src.createKey()
	first := src.export()
	if _, err := src.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	second := src.export()

	dst := newEnv(t)
	if _, err := dst.importBundle(first, false); err != nil {
		t.Fatal(err)
	}
	w, err := dst.kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: id, Plaintext: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if _, err := dst.kr.UnwrapDEK(ctxb(), &keyring.UnwrapDEKInput{KeyId: id, KeyVersion: 1, WrappedKey: w.WrappedKey}); err != nil {
					errs <- err
					return
				}
				if _, err := dst.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x")}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 3 {
		if _, err := dst.importBundle(second, false); err != nil {
			t.Error(err)
		}
		if _, err := dst.kr.ExportKeyring(ctxb(), &keyring.ExportKeyringInput{KeyringPassphrase: testPass, Passphrase: bundlePass, KDF: testkeys.KDF}); err != nil {
			t.Error(err)
		}
	}
	close(done)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if m := dst.describe(id); m.CurrentKeyVersion != 2 {
		t.Fatalf("after the merge: version %d", m.CurrentKeyVersion)
	}
	must(t, dst.kr.VerifyAudit(ctxb()))
}

// TestImportNeedsKeyringPassphrase imports a bundle (a key with known
// material and an alias) without, or with a wrong, keyring passphrase:
// the import is refused before the bundle is opened, changes nothing, and
// is audited as denied.
func TestImportNeedsKeyringPassphrase(t *testing.T) {
	src := newEnv(t)
	id := src.createKey()
	must(t, src.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/kmsfs", TargetKeyId: id}))
	bundle := src.export()
	dst := newEnv(t)
	before := dst.state()
	for _, pass := range [][]byte{nil, []byte("wrong")} {
		_, err := dst.kr.ImportKeyring(ctxb(), &keyring.ImportKeyringInput{KeyringPassphrase: pass, Bundle: bundle, Passphrase: bundlePass})
		wantErr(t, "import with keyring passphrase "+strconv.Quote(string(pass)), err, keyring.ErrWrongPassphrase)
	}
	if dst.state() != before {
		t.Fatal("an import without the keyring passphrase changed the keyring")
	}
	recs, err := dst.kr.Audit(ctxb(), keyring.AuditFilter{Op: "ImportKeyring"})
	if err != nil || len(recs) != 2 || recs[0].Outcome != "AccessDeniedException" || recs[1].Outcome != "AccessDeniedException" {
		t.Fatalf("import audit records: %+v, %v", recs, err)
	}
	if _, err := dst.importBundle(bundle, false); err != nil {
		t.Fatalf("import with the keyring passphrase: %v", err)
	}
}
