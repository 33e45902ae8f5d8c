package local_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

func TestEncryptDecryptRoundTrip(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	contexts := []map[string]string{nil, {}, {"path": "/a/b"}, {"a": "1", "b": "2", "": ""}}
	for _, size := range []int{1, 16, 4095, 4096} {
		for i, ec := range contexts {
			t.Run(fmt.Sprintf("len=%d,ctx=%d", size, i), func(t *testing.T) {
				pt := bytes.Repeat([]byte{byte(size)}, size)
				out, err := env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: id, Plaintext: pt, EncryptionContext: ec})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.CiphertextBlob) != local.BlobOverhead+size || out.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
					t.Fatalf("blob length %d, algorithm %q", len(out.CiphertextBlob), out.EncryptionAlgorithm)
				}
				if out.KeyId != env.describe(id).Arn {
					t.Fatalf("KeyId %q is not the ARN", out.KeyId)
				}
				got, err := env.decrypt(out.CiphertextBlob, ec)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("Decrypt: %v", err)
				}
			})
		}
	}
}

func TestEncryptSizeLimits(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	for _, size := range []int{0, 4097} {
		_, err := env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: id, Plaintext: make([]byte, size)})
		wantErr(t, fmt.Sprintf("Encrypt %d bytes", size), err, keyring.ErrValidation)
	}
	_, err := env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: "alias/none", Plaintext: []byte("x")})
	wantErr(t, "Encrypt unknown key", err, keyring.ErrNotFound)
}

func TestEncryptionContextBinding(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	tests := []struct {
		name    string
		enc     map[string]string
		dec     map[string]string
		wantErr error
	}{
		{"same", map[string]string{"a": "1"}, map[string]string{"a": "1"}, nil},
		{"missing", map[string]string{"a": "1"}, nil, keyring.ErrInvalidCiphertext},
		{"extra", nil, map[string]string{"a": "1"}, keyring.ErrInvalidCiphertext},
		{"value", map[string]string{"a": "1"}, map[string]string{"a": "2"}, keyring.ErrInvalidCiphertext},
		{"case", map[string]string{"a": "1"}, map[string]string{"A": "1"}, keyring.ErrInvalidCiphertext},
		{"ab/c vs a/bc", map[string]string{"ab": "c"}, map[string]string{"a": "bc"}, keyring.ErrInvalidCiphertext},
		{"a/bc vs ab/c", map[string]string{"a": "bc"}, map[string]string{"ab": "c"}, keyring.ErrInvalidCiphertext},
		{"pairs vs one", map[string]string{"a": "b", "c": "d"}, map[string]string{"a": "bcd"}, keyring.ErrInvalidCiphertext},
		{"empty vs nil", map[string]string{}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blob := env.encrypt(id, []byte("payload"), tc.enc)
			_, err := env.decrypt(blob, tc.dec)
			wantErr(t, "Decrypt", err, tc.wantErr)
		})
	}
}

func TestTamperedBlob(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	ec := map[string]string{"k": "v"}
	blob := env.encrypt(id, []byte("sixteen bytes!!!"), ec)
	for i := range blob {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(blob)
			bad[i] ^= mask
			pt, err := env.decrypt(bad, ec)
			if !errors.Is(err, keyring.ErrInvalidCiphertext) || pt != nil {
				t.Fatalf("byte %d ^ %#x: got %q, %v; want ErrInvalidCiphertext", i, mask, pt, err)
			}
		}
	}
	for _, bad := range [][]byte{nil, blob[:len(blob)-1], blob[:local.BlobOverhead], append(bytes.Clone(blob), 0)} {
		_, err := env.decrypt(bad, ec)
		wantErr(t, fmt.Sprintf("length %d", len(bad)), err, keyring.ErrInvalidCiphertext)
	}
	if _, err := env.decrypt(blob, ec); err != nil {
		t.Fatalf("original no longer decrypts: %v", err)
	}
}

func TestDecryptIncorrectKey(t *testing.T) {
	env := newEnv(t)
	k1, k2 := env.createKey(), env.createKey()
	blob := env.encrypt(k1, []byte("x"), nil)
	_, err := env.kr.Decrypt(ctxb(), &keyring.DecryptInput{CiphertextBlob: blob, KeyId: k2})
	wantErr(t, "Decrypt with other key", err, keyring.ErrIncorrectKey)
	_, err = env.kr.Decrypt(ctxb(), &keyring.DecryptInput{CiphertextBlob: blob, KeyId: "alias/none"})
	wantErr(t, "Decrypt with unknown key", err, keyring.ErrNotFound)
}

func TestRotationKeepsOldVersions(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	var blobs [][]byte
	for v := uint32(1); v <= 3; v++ {
		blob := env.encrypt(id, []byte{byte(v)}, nil)
		h, err := local.ParseBlob(blob)
		if err != nil || h.KeyVersion != v || h.KeyUUID() != id {
			t.Fatalf("blob header %+v %v, want version %d", h, err, v)
		}
		blobs = append(blobs, blob)
		out, err := env.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: id})
		if err != nil || out.KeyVersion != v+1 || out.KeyId != env.describe(id).Arn {
			t.Fatalf("RotateKeyOnDemand: %+v %v", out, err)
		}
	}
	for i, blob := range blobs {
		pt, err := env.decrypt(blob, nil)
		if err != nil || pt[0] != byte(i+1) {
			t.Fatalf("blob of version %d: %v", i+1, err)
		}
	}
	rots, err := env.kr.ListKeyRotations(ctxb(), &keyring.ListKeyRotationsInput{KeyId: id, Limit: 2})
	if err != nil || len(rots.Rotations) != 2 || !rots.Truncated || rots.Rotations[0].KeyVersion != 2 || rots.Rotations[0].RotationType != "ON_DEMAND" {
		t.Fatalf("ListKeyRotations page 1: %+v %v", rots, err)
	}
	rots, err = env.kr.ListKeyRotations(ctxb(), &keyring.ListKeyRotationsInput{KeyId: id, Marker: rots.NextMarker})
	if err != nil || len(rots.Rotations) != 1 || rots.Truncated || rots.Rotations[0].KeyVersion != 4 {
		t.Fatalf("ListKeyRotations page 2: %+v %v", rots, err)
	}
}

func TestAutomaticRotation(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	for _, days := range []int{89, 2561, -1} {
		err := env.kr.EnableKeyRotation(ctxb(), &keyring.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: days})
		wantErr(t, fmt.Sprintf("period %d", days), err, keyring.ErrValidation)
	}
	if err := env.kr.EnableKeyRotation(ctxb(), &keyring.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: 90}); err != nil {
		t.Fatal(err)
	}
	st, err := env.kr.GetKeyRotationStatus(ctxb(), &keyring.KeyIDInput{KeyId: id})
	if err != nil || !st.KeyRotationEnabled || st.RotationPeriodInDays != 90 || !st.NextRotationDate.Equal(env.clock.Now().Add(90*day)) {
		t.Fatalf("status %+v %v", st, err)
	}
	env.clock.Advance(90*day - 1)
	if v := env.describe(id).CurrentKeyVersion; v != 1 {
		t.Fatalf("rotated early to version %d", v)
	}
	env.clock.Advance(1)
	blob := env.encrypt(id, []byte("x"), nil) // use triggers the due rotation
	if h, _ := local.ParseBlob(blob); h.KeyVersion != 2 {
		t.Fatalf("encrypted under version %d, want 2", h.KeyVersion)
	}
	rots, err := env.kr.ListKeyRotations(ctxb(), &keyring.ListKeyRotationsInput{KeyId: id})
	if err != nil || len(rots.Rotations) != 1 || rots.Rotations[0].RotationType != "AUTOMATIC" {
		t.Fatalf("rotations %+v %v", rots, err)
	}
	st, _ = env.kr.GetKeyRotationStatus(ctxb(), &keyring.KeyIDInput{KeyId: id})
	if !st.NextRotationDate.Equal(env.clock.Now().Add(90 * day)) {
		t.Fatalf("next rotation %v", st.NextRotationDate)
	}

	// RotateDue rotates idle keys; disabled keys wait.
	idle, off := env.createKey(), env.createKey()
	for _, k := range []string{idle, off} {
		if err := env.kr.EnableKeyRotation(ctxb(), &keyring.EnableKeyRotationInput{KeyId: k}); err != nil {
			t.Fatal(err)
		}
	}
	env.putInState(off, keyring.StateDisabled)
	env.clock.Advance(365 * day)
	n, err := env.kr.RotateDue(ctxb())
	if err != nil || n != 2 { // id (90 days) and idle (365 days)
		t.Fatalf("RotateDue: %d %v", n, err)
	}
	if v := env.describe(off).CurrentKeyVersion; v != 1 {
		t.Fatalf("disabled key rotated to %d", v)
	}
	if err := env.kr.DisableKeyRotation(ctxb(), &keyring.KeyIDInput{KeyId: idle}); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(400 * day)
	if n, _ := env.kr.RotateDue(ctxb()); n != 1 { // only id
		t.Fatalf("RotateDue after DisableKeyRotation: %d", n)
	}
	st, _ = env.kr.GetKeyRotationStatus(ctxb(), &keyring.KeyIDInput{KeyId: idle})
	if st.KeyRotationEnabled || st.NextRotationDate != nil {
		t.Fatalf("status after disable %+v", st)
	}
}

func TestMinDecryptionVersion(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	v1 := env.encrypt(id, []byte("1"), nil)
	w1, err := env.kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: id, Plaintext: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	v2 := env.encrypt(id, []byte("2"), nil)
	wantErr(t, "min 3", env.kr.SetMinDecryptionVersion(ctxb(), id, 3), keyring.ErrValidation)
	wantErr(t, "destroy above min", env.kr.DestroyVersionsBelow(ctxb(), id, 2), keyring.ErrValidation)
	if err := env.kr.SetMinDecryptionVersion(ctxb(), id, 2); err != nil {
		t.Fatal(err)
	}
	_, err = env.decrypt(v1, nil)
	wantErr(t, "retired blob", err, keyring.ErrVersionRetired)
	_, err = env.kr.UnwrapDEK(ctxb(), &keyring.UnwrapDEKInput{KeyId: id, KeyVersion: 1, WrappedKey: w1.WrappedKey})
	wantErr(t, "retired DEK", err, keyring.ErrVersionRetired)
	if _, err := env.decrypt(v2, nil); err != nil {
		t.Fatal(err)
	}
	if err := env.kr.SetMinDecryptionVersion(ctxb(), id, 1); err != nil { // reversible until destroyed
		t.Fatal(err)
	}
	if _, err := env.decrypt(v1, nil); err != nil {
		t.Fatal(err)
	}
	if err := env.kr.SetMinDecryptionVersion(ctxb(), id, 2); err != nil {
		t.Fatal(err)
	}
	if err := env.kr.DestroyVersionsBelow(ctxb(), id, 2); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "lower below destroyed", env.kr.SetMinDecryptionVersion(ctxb(), id, 1), keyring.ErrValidation)
	env.reopen()
	_, err = env.decrypt(v1, nil)
	wantErr(t, "destroyed blob", err, keyring.ErrVersionRetired)
	if md := env.describe(id); md.MinimumDecryptionVersion != 2 {
		t.Fatalf("MinimumDecryptionVersion %d", md.MinimumDecryptionVersion)
	}
}

func TestGenerateDataKey(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	ec := map[string]string{"purpose": "test"}
	tests := []struct {
		spec    string
		n       int
		wantLen int
		wantErr error
	}{
		{keyring.DataKeyAES256, 0, 32, nil},
		{keyring.DataKeyAES128, 0, 16, nil},
		{"", 1, 1, nil},
		{"", 1024, 1024, nil},
		{"", 0, 0, keyring.ErrValidation},
		{"", 1025, 0, keyring.ErrValidation},
		{"", -1, 0, keyring.ErrValidation},
		{keyring.DataKeyAES256, 32, 0, keyring.ErrValidation},
		{"AES_512", 0, 0, keyring.ErrValidation},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("spec=%q,n=%d", tc.spec, tc.n), func(t *testing.T) {
			in := &keyring.GenerateDataKeyInput{KeyId: id, KeySpec: tc.spec, NumberOfBytes: tc.n, EncryptionContext: ec}
			out, err := env.kr.GenerateDataKey(ctxb(), in)
			wantErr(t, "GenerateDataKey", err, tc.wantErr)
			_, err2 := env.kr.GenerateDataKeyWithoutPlaintext(ctxb(), in)
			wantErr(t, "GenerateDataKeyWithoutPlaintext", err2, tc.wantErr)
			if err != nil {
				return
			}
			if len(out.Plaintext) != tc.wantLen || out.KeyId != env.describe(id).Arn {
				t.Fatalf("got %d bytes under %q", len(out.Plaintext), out.KeyId)
			}
			pt, err := env.decrypt(out.CiphertextBlob, ec)
			if err != nil || !bytes.Equal(pt, out.Plaintext) {
				t.Fatalf("blob does not decrypt to the data key: %v", err)
			}
		})
	}
}

func TestReEncrypt(t *testing.T) {
	env := newEnv(t)
	src, dst := env.createKey(), env.createKey()
	if _, err := env.kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: dst}); err != nil {
		t.Fatal(err)
	}
	srcCtx, dstCtx := map[string]string{"from": "a"}, map[string]string{"to": "b"}
	blob := env.encrypt(src, []byte("move me"), srcCtx)
	out, err := env.kr.ReEncrypt(ctxb(), &keyring.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: srcCtx,
		SourceKeyId: src, DestinationKeyId: dst, DestinationEncryptionContext: dstCtx})
	if err != nil {
		t.Fatal(err)
	}
	if out.SourceKeyId != env.describe(src).Arn || out.KeyId != env.describe(dst).Arn {
		t.Fatalf("ids %+v", out)
	}
	if h, _ := local.ParseBlob(out.CiphertextBlob); h.KeyUUID() != dst || h.KeyVersion != 2 {
		t.Fatalf("new blob under %s v%d", h.KeyUUID(), h.KeyVersion)
	}
	pt, err := env.decrypt(out.CiphertextBlob, dstCtx)
	if err != nil || string(pt) != "move me" {
		t.Fatalf("Decrypt re-encrypted: %q %v", pt, err)
	}
	tests := []struct {
		name string
		in   keyring.ReEncryptInput
		want error
	}{
		{"wrong source context", keyring.ReEncryptInput{CiphertextBlob: blob, DestinationKeyId: dst}, keyring.ErrInvalidCiphertext},
		{"wrong source key", keyring.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: srcCtx, SourceKeyId: dst, DestinationKeyId: dst}, keyring.ErrIncorrectKey},
		{"no destination", keyring.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: srcCtx}, keyring.ErrValidation},
		{"unknown destination", keyring.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: srcCtx, DestinationKeyId: "alias/x"}, keyring.ErrNotFound},
	}
	for _, tc := range tests {
		_, err := env.kr.ReEncrypt(ctxb(), &tc.in)
		wantErr(t, tc.name, err, tc.want)
	}
}
