package local_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
)

// The key state model test: AWS KMS's key state table ("Key states of AWS
// KMS keys", KMS Developer Guide, table footnotes quoted below) as data,
// checked against the keyring driven into each state through its public
// API. The table's footnotes:
//
//	[1] DisabledException: <key ARN> is disabled.
//	[2] DisabledException: <key ARN> is pending deletion.
//	[3] KMSInvalidStateException: <key ARN> is pending deletion.
//	[4] KMSInvalidStateException: <key ARN> is not pending deletion.
//	[5] KMSInvalidStateException: <key ARN> is pending import.
//	[6] UnsupportedOperationException: origin is EXTERNAL, not valid for this operation.
//	[7] imported key material or custom key store: UnsupportedOperationException.
//	[8] imported key material: KMSInvalidStateException.
//	[9] key cannot or does not have imported material: UnsupportedOperationException.
//
// "[2] or [3]" cells accept either exception; kmsfs answers [3].

// ksFixture is the keys of one (state, operation) cell.
type ksFixture struct {
	ctx      context.Context
	id       string // the symmetric key under test, in the state
	other    string // an Enabled symmetric key in the same region
	blob     []byte // a ciphertext under id made while it was Enabled; nil if none can exist
	sign     string // an ECC_NIST_P256 SIGN_VERIFY key in the state, or ""
	sig      []byte
	mac      string // an HMAC_256 key in the state, or ""
	macv     []byte
	material []byte // id's imported material, for an EXTERNAL key
}

const (
	ok          = ""
	exDisabled  = "DisabledException"
	exInvalid   = "KMSInvalidStateException"
	exUnsupport = "UnsupportedOperationException"
	skipOp      = "skip"
)

var errSkipOp = fmt.Errorf("%s", skipOp)

type ksOp struct {
	name  string
	fresh bool // changes the key: runs on a fixture of its own
	run   func(f *ksFixture, n int) error
}

func ksOps(env *testEnv) []ksOp {
	kr := env.kr
	return []ksOp{
		{"Encrypt", false, func(f *ksFixture, _ int) error {
			_, err := kr.Encrypt(f.ctx, &keyring.EncryptInput{KeyId: f.id, Plaintext: []byte("x")})
			return err
		}},
		{"Decrypt", false, func(f *ksFixture, _ int) error {
			if f.blob == nil {
				return errSkipOp
			}
			_, err := kr.Decrypt(f.ctx, &keyring.DecryptInput{CiphertextBlob: f.blob})
			return err
		}},
		{"ReEncrypt from", false, func(f *ksFixture, _ int) error {
			if f.blob == nil {
				return errSkipOp
			}
			_, err := kr.ReEncrypt(f.ctx, &keyring.ReEncryptInput{CiphertextBlob: f.blob, DestinationKeyId: f.other})
			return err
		}},
		{"ReEncrypt to", false, func(f *ksFixture, _ int) error {
			src, err := kr.Encrypt(f.ctx, &keyring.EncryptInput{KeyId: f.other, Plaintext: []byte("y")})
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			_, err = kr.ReEncrypt(f.ctx, &keyring.ReEncryptInput{CiphertextBlob: src.CiphertextBlob, DestinationKeyId: f.id})
			return err
		}},
		{"GenerateDataKey", false, func(f *ksFixture, _ int) error {
			_, err := kr.GenerateDataKey(f.ctx, &keyring.GenerateDataKeyInput{KeyId: f.id, KeySpec: keyring.DataKeyAES256})
			return err
		}},
		{"GenerateDataKeyWithoutPlaintext", false, func(f *ksFixture, _ int) error {
			_, err := kr.GenerateDataKeyWithoutPlaintext(f.ctx, &keyring.GenerateDataKeyInput{KeyId: f.id, NumberOfBytes: 16})
			return err
		}},
		{"Sign", false, func(f *ksFixture, _ int) error {
			if f.sign == "" {
				return errSkipOp
			}
			_, err := kr.Sign(f.ctx, &keyring.SignInput{KeyId: f.sign, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"})
			return err
		}},
		{"Verify", false, func(f *ksFixture, _ int) error {
			if f.sign == "" {
				return errSkipOp
			}
			_, err := kr.Verify(f.ctx, &keyring.VerifyInput{KeyId: f.sign, Message: []byte("m"), Signature: f.sig, SigningAlgorithm: "ECDSA_SHA_256"})
			return err
		}},
		{"GetPublicKey", false, func(f *ksFixture, _ int) error {
			if f.sign == "" {
				return errSkipOp
			}
			_, err := kr.GetPublicKey(f.ctx, &keyring.GetPublicKeyInput{KeyId: f.sign})
			return err
		}},
		{"GenerateMac", false, func(f *ksFixture, _ int) error {
			if f.mac == "" {
				return errSkipOp
			}
			_, err := kr.GenerateMac(f.ctx, &keyring.GenerateMacInput{KeyId: f.mac, Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"})
			return err
		}},
		{"VerifyMac", false, func(f *ksFixture, _ int) error {
			if f.mac == "" {
				return errSkipOp
			}
			_, err := kr.VerifyMac(f.ctx, &keyring.VerifyMacInput{KeyId: f.mac, Message: []byte("m"), Mac: f.macv, MacAlgorithm: "HMAC_SHA_256"})
			return err
		}},
		{"DescribeKey", false, func(f *ksFixture, _ int) error {
			_, err := kr.DescribeKey(f.ctx, &keyring.KeyIDInput{KeyId: f.id})
			return err
		}},
		{"EnableKey", true, func(f *ksFixture, _ int) error {
			return kr.EnableKey(f.ctx, &keyring.KeyIDInput{KeyId: f.id})
		}},
		{"DisableKey", true, func(f *ksFixture, _ int) error {
			return kr.DisableKey(f.ctx, &keyring.KeyIDInput{KeyId: f.id})
		}},
		{"ScheduleKeyDeletion", true, func(f *ksFixture, _ int) error {
			_, err := kr.ScheduleKeyDeletion(f.ctx, &keyring.ScheduleKeyDeletionInput{KeyId: f.id, PendingWindowInDays: 7})
			return err
		}},
		{"CancelKeyDeletion", true, func(f *ksFixture, _ int) error {
			_, err := kr.CancelKeyDeletion(f.ctx, &keyring.KeyIDInput{KeyId: f.id})
			return err
		}},
		{"EnableKeyRotation", true, func(f *ksFixture, _ int) error {
			return kr.EnableKeyRotation(f.ctx, &keyring.EnableKeyRotationInput{KeyId: f.id})
		}},
		{"RotateKeyOnDemand", true, func(f *ksFixture, _ int) error {
			_, err := kr.RotateKeyOnDemand(f.ctx, &keyring.KeyIDInput{KeyId: f.id})
			return err
		}},
		{"CreateAlias", false, func(f *ksFixture, n int) error {
			return kr.CreateAlias(f.ctx, &keyring.AliasInput{AliasName: fmt.Sprintf("alias/ks-%d", n), TargetKeyId: f.id})
		}},
		{"TagResource", false, func(f *ksFixture, _ int) error {
			return kr.TagResource(f.ctx, &keyring.TagResourceInput{KeyId: f.id, Tags: []keyring.Tag{{TagKey: "k", TagValue: "v"}}})
		}},
		{"UpdateKeyDescription", false, func(f *ksFixture, _ int) error {
			return kr.UpdateKeyDescription(f.ctx, &keyring.UpdateKeyDescriptionInput{KeyId: f.id, Description: "d"})
		}},
		{"GetKeyPolicy", false, func(f *ksFixture, _ int) error {
			_, err := kr.GetKeyPolicy(f.ctx, &keyring.GetKeyPolicyInput{KeyId: f.id})
			return err
		}},
		{"PutKeyPolicy", false, func(f *ksFixture, _ int) error {
			p, err := kr.GetKeyPolicy(f.ctx, &keyring.GetKeyPolicyInput{KeyId: f.id})
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			return kr.PutKeyPolicy(f.ctx, &keyring.PutKeyPolicyInput{KeyId: f.id, Policy: p.Policy})
		}},
		{"CreateGrant", false, func(f *ksFixture, _ int) error {
			_, err := kr.CreateGrant(f.ctx, &keyring.CreateGrantInput{KeyId: f.id,
				GranteePrincipal: "arn:aws:iam::111122223333:user/bob", Operations: []string{"Decrypt"}})
			return err
		}},
		{"ImportKeyMaterial", true, func(f *ksFixture, _ int) error {
			material := f.material
			if material == nil {
				material = make([]byte, 32)
				rand.Read(material)
			}
			p, err := kr.GetParametersForImport(f.ctx, &keyring.GetParametersForImportInput{KeyId: f.id,
				WrappingAlgorithm: "RSAES_OAEP_SHA_256", WrappingKeySpec: "RSA_2048"})
			if err != nil {
				return err
			}
			w := wrapWith(env.t, p, material)
			_, err = kr.ImportKeyMaterial(f.ctx, &keyring.ImportKeyMaterialInput{KeyId: f.id, ImportToken: w.token,
				EncryptedKeyMaterial: w.blob, ExpirationModel: keyring.ExpirationNoKeyMaterial})
			return err
		}},
	}
}

// wrapWith wraps material under import parameters with RSAES_OAEP_SHA_256.
func wrapWith(t *testing.T, p *keyring.GetParametersForImportOutput, material []byte) wrappedMaterial {
	t.Helper()
	pk, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pk.(*rsa.PublicKey), material, nil)
	if err != nil {
		t.Fatal(err)
	}
	return wrappedMaterial{p.ImportToken, blob}
}

// ksEnabled makes an Enabled fixture in ctx: symmetric, signing and HMAC
// keys, multi-Region when mrk, with a ciphertext, signature and MAC.
func ksEnabled(t *testing.T, env *testEnv, ctx context.Context, mrk bool) *ksFixture {
	t.Helper()
	kr := env.kr
	mk := func(in keyring.CreateKeyInput) string {
		in.MultiRegion = mrk
		out, err := kr.CreateKey(ctx, &in)
		if err != nil {
			t.Fatalf("CreateKey %+v: %v", in, err)
		}
		return out.KeyMetadata.KeyId
	}
	f := &ksFixture{ctx: ctx, id: mk(keyring.CreateKeyInput{}), other: mk(keyring.CreateKeyInput{}),
		sign: mk(keyring.CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"}),
		mac:  mk(keyring.CreateKeyInput{KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"})}
	enc, err := kr.Encrypt(ctx, &keyring.EncryptInput{KeyId: f.id, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	f.blob = enc.CiphertextBlob
	s, err := kr.Sign(ctx, &keyring.SignInput{KeyId: f.sign, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"})
	if err != nil {
		t.Fatal(err)
	}
	f.sig = s.Signature
	m, err := kr.GenerateMac(ctx, &keyring.GenerateMacInput{KeyId: f.mac, Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"})
	if err != nil {
		t.Fatal(err)
	}
	f.macv = m.Mac
	return f
}

// ksImported makes an Enabled EXTERNAL key with material valid for 48h,
// and a ciphertext under it.
func ksImported(t *testing.T, env *testEnv) *ksFixture {
	t.Helper()
	ctx := ctxb()
	out, err := env.kr.CreateKey(ctx, &keyring.CreateKeyInput{Origin: keyring.OriginExternal})
	if err != nil {
		t.Fatal(err)
	}
	f := &ksFixture{ctx: ctx, id: out.KeyMetadata.KeyId, other: env.createKey(), material: make([]byte, 32)}
	rand.Read(f.material)
	w := goWrap(t, env, f.id, f.material)
	valid := keyring.EpochTime{Time: env.clock.Now().Add(48 * time.Hour)}
	if _, err := env.kr.ImportKeyMaterial(ctx, &keyring.ImportKeyMaterialInput{KeyId: f.id, ImportToken: w.token,
		EncryptedKeyMaterial: w.blob, ValidTo: &valid}); err != nil {
		t.Fatal(err)
	}
	f.blob = env.encrypt(f.id, []byte("x"), nil)
	return f
}

func (f *ksFixture) each(fn func(id string) error) error {
	for _, id := range []string{f.id, f.sign, f.mac} {
		if id == "" {
			continue
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

type ksRow struct {
	state string // the KeyState DescribeKey must report
	setup func(t *testing.T, env *testEnv) *ksFixture
	want  map[string][]string // op → accepted exception names; ok is success
	check func(t *testing.T, env *testEnv, f *ksFixture)
}

func ksRows() map[string]ksRow {
	one := func(name string) []string { return []string{name} }
	pendingDeletion := []string{exDisabled, exInvalid} // [2] or [3]
	// crypto gives every cryptographic operation of the table the same cell.
	crypto := func(m map[string][]string, want []string) map[string][]string {
		for _, op := range []string{"Encrypt", "Decrypt", "ReEncrypt from", "ReEncrypt to", "GenerateDataKey",
			"GenerateDataKeyWithoutPlaintext", "Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac"} {
			m[op] = want
		}
		return m
	}
	pendingImport := func() map[string][]string {
		return crypto(map[string][]string{
			"DescribeKey": one(ok), "EnableKey": one(exInvalid), "DisableKey": one(exInvalid), // [5]
			"ScheduleKeyDeletion": one(ok), "CancelKeyDeletion": one(exInvalid), // [4]
			"EnableKeyRotation": one(exUnsupport), // [6]
			// AWS rotates imported material on demand only with new
			// material in PENDING_ROTATION, which kmsfs does not
			// implement: it refuses the rotation of imported keys.
			"RotateKeyOnDemand": {exUnsupport, exInvalid},
			"CreateAlias":       one(ok), "TagResource": one(ok), "UpdateKeyDescription": one(ok),
			"GetKeyPolicy": one(ok), "PutKeyPolicy": one(ok), "CreateGrant": one(exInvalid), // [5]
			"ImportKeyMaterial": one(ok),
		}, one(exInvalid)) // [5]
	}
	return map[string]ksRow{
		"Enabled": {
			state: keyring.StateEnabled,
			setup: func(t *testing.T, env *testEnv) *ksFixture { return ksEnabled(t, env, ctxb(), false) },
			want: crypto(map[string][]string{
				"DescribeKey": one(ok), "EnableKey": one(ok), "DisableKey": one(ok), "ScheduleKeyDeletion": one(ok),
				"CancelKeyDeletion": one(exInvalid), // [4]
				"EnableKeyRotation": one(ok), "RotateKeyOnDemand": one(ok),
				"CreateAlias": one(ok), "TagResource": one(ok), "UpdateKeyDescription": one(ok),
				"GetKeyPolicy": one(ok), "PutKeyPolicy": one(ok), "CreateGrant": one(ok),
				"ImportKeyMaterial": one(exUnsupport), // [9]
			}, one(ok)),
		},
		"Disabled": {
			state: keyring.StateDisabled,
			setup: func(t *testing.T, env *testEnv) *ksFixture {
				f := ksEnabled(t, env, ctxb(), false)
				if err := f.each(func(id string) error { return env.kr.DisableKey(f.ctx, &keyring.KeyIDInput{KeyId: id}) }); err != nil {
					t.Fatal(err)
				}
				return f
			},
			want: crypto(map[string][]string{
				"DescribeKey": one(ok), "EnableKey": one(ok), "DisableKey": one(ok), "ScheduleKeyDeletion": one(ok),
				"CancelKeyDeletion": one(exInvalid),  // [4]
				"EnableKeyRotation": one(exDisabled), // [1]
				"RotateKeyOnDemand": one(exDisabled), // [1]
				"CreateAlias":       one(ok), "TagResource": one(ok), "UpdateKeyDescription": one(ok),
				"GetKeyPolicy": one(ok), "PutKeyPolicy": one(ok), "CreateGrant": one(exDisabled), // [1]
				"ImportKeyMaterial": one(exUnsupport), // [9]
			}, one(exDisabled)), // [1]
		},
		"PendingDeletion": {
			state: keyring.StatePendingDeletion,
			setup: func(t *testing.T, env *testEnv) *ksFixture {
				f := ksEnabled(t, env, ctxb(), false)
				if err := f.each(func(id string) error {
					_, err := env.kr.ScheduleKeyDeletion(f.ctx, &keyring.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: 7})
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return f
			},
			want: crypto(map[string][]string{
				"DescribeKey": one(ok), "EnableKey": one(exInvalid), "DisableKey": one(exInvalid), // [3]
				"ScheduleKeyDeletion": one(exInvalid), "CancelKeyDeletion": one(ok),
				"EnableKeyRotation": one(exInvalid), "RotateKeyOnDemand": one(exInvalid), // [3]
				"CreateAlias": one(exInvalid), "TagResource": one(exInvalid), "UpdateKeyDescription": one(exInvalid), // [3]
				"GetKeyPolicy": one(ok), "PutKeyPolicy": one(ok), "CreateGrant": pendingDeletion,
				"ImportKeyMaterial": one(exUnsupport), // [9]
			}, pendingDeletion),
			check: func(t *testing.T, env *testEnv, f *ksFixture) {
				// CancelKeyDeletion leaves the key Disabled, not Enabled.
				if _, err := env.kr.CancelKeyDeletion(f.ctx, &keyring.KeyIDInput{KeyId: f.id}); err != nil {
					t.Fatal(err)
				}
				if got := env.describe(f.id).KeyState; got != keyring.StateDisabled {
					t.Errorf("after CancelKeyDeletion: %s, want Disabled", got)
				}
			},
		},
		"PendingImport": {
			state: keyring.StatePendingImport,
			setup: func(t *testing.T, env *testEnv) *ksFixture {
				out, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{Origin: keyring.OriginExternal})
				if err != nil {
					t.Fatal(err)
				}
				// No ciphertext, signature or MAC can exist before the import.
				return &ksFixture{ctx: ctxb(), id: out.KeyMetadata.KeyId, other: env.createKey()}
			},
			want: pendingImport(),
		},
		"expired material": {
			state: keyring.StatePendingImport,
			setup: func(t *testing.T, env *testEnv) *ksFixture {
				f := ksImported(t, env)
				env.clock.Advance(49 * time.Hour)
				return f
			},
			want: pendingImport(),
			check: func(t *testing.T, env *testEnv, f *ksFixture) {
				md := env.describe(f.id)
				if md.ValidTo != nil || md.ExpirationModel != "" {
					t.Errorf("expired key still describes material: ValidTo %v, ExpirationModel %q", md.ValidTo, md.ExpirationModel)
				}
				// Other material is refused; the same brings the ciphertext back.
				other := make([]byte, 32)
				rand.Read(other)
				w := goWrap(t, env, f.id, other)
				_, err := env.kr.ImportKeyMaterial(f.ctx, &keyring.ImportKeyMaterialInput{KeyId: f.id, ImportToken: w.token, EncryptedKeyMaterial: w.blob})
				wantName(t, "ImportKeyMaterial of other material", err, "IncorrectKeyMaterialException")
				w = goWrap(t, env, f.id, f.material)
				if _, err := env.kr.ImportKeyMaterial(f.ctx, &keyring.ImportKeyMaterialInput{KeyId: f.id, ImportToken: w.token, EncryptedKeyMaterial: w.blob}); err != nil {
					t.Fatal(err)
				}
				if md := env.describe(f.id); md.KeyState != keyring.StateEnabled {
					t.Errorf("after re-import: %s", md.KeyState)
				}
				if pt, err := env.decrypt(f.blob, nil); err != nil || string(pt) != "x" {
					t.Errorf("decrypt after re-import: %q, %v", pt, err)
				}
			},
		},
		"PendingDeletion EXTERNAL": {
			state: keyring.StatePendingDeletion,
			setup: func(t *testing.T, env *testEnv) *ksFixture {
				f := ksImported(t, env)
				if _, err := env.kr.ScheduleKeyDeletion(f.ctx, &keyring.ScheduleKeyDeletionInput{KeyId: f.id, PendingWindowInDays: 7}); err != nil {
					t.Fatal(err)
				}
				return f
			},
			want: crypto(map[string][]string{
				"DescribeKey": one(ok), "EnableKey": one(exInvalid), "DisableKey": one(exInvalid), // [3]
				"ScheduleKeyDeletion": one(exInvalid), "CancelKeyDeletion": one(ok),
				"EnableKeyRotation": {exInvalid, exUnsupport}, "RotateKeyOnDemand": {exInvalid, exUnsupport}, // [3] or [7]
				"CreateAlias": one(exInvalid), "TagResource": one(exInvalid), "UpdateKeyDescription": one(exInvalid), // [3]
				"GetKeyPolicy": one(ok), "PutKeyPolicy": one(ok), "CreateGrant": pendingDeletion,
				"ImportKeyMaterial": one(exInvalid), // [8]
			}, pendingDeletion),
		},
		"PendingReplicaDeletion": {
			state: keyring.StatePendingReplicaDeletion,
			setup: func(t *testing.T, env *testEnv) *ksFixture {
				f := ksEnabled(t, env, inRegion("us-east-1"), true)
				if err := f.each(func(id string) error {
					if _, err := env.kr.ReplicateKey(f.ctx, &keyring.ReplicateKeyInput{KeyId: id, ReplicaRegion: "eu-west-1"}); err != nil {
						return err
					}
					_, err := env.kr.ScheduleKeyDeletion(f.ctx, &keyring.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: 7})
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return f
			},
			// The table gives PendingReplicaDeletion the cells of
			// PendingDeletion.
			want: crypto(map[string][]string{
				"DescribeKey": one(ok), "EnableKey": one(exInvalid), "DisableKey": one(exInvalid), // [3]
				"ScheduleKeyDeletion": one(exInvalid), "CancelKeyDeletion": one(ok),
				"EnableKeyRotation": one(exInvalid), "RotateKeyOnDemand": one(exInvalid), // [3]
				"CreateAlias": one(exInvalid), "TagResource": one(exInvalid), "UpdateKeyDescription": one(exInvalid), // [3]
				"GetKeyPolicy": one(ok), "PutKeyPolicy": one(ok), "CreateGrant": pendingDeletion,
				"ImportKeyMaterial": one(exUnsupport), // [9]
			}, pendingDeletion),
			check: func(t *testing.T, env *testEnv, f *ksFixture) {
				md := describeIn(t, env, f)
				if md.Enabled || md.DeletionDate != nil || md.PendingDeletionWindowInDays != 7 {
					t.Errorf("PendingReplicaDeletion: Enabled %v, DeletionDate %v, window %d", md.Enabled, md.DeletionDate, md.PendingDeletionWindowInDays)
				}
				if _, err := env.kr.CancelKeyDeletion(f.ctx, &keyring.KeyIDInput{KeyId: f.id}); err != nil {
					t.Fatal(err)
				}
				if got := describeIn(t, env, f).KeyState; got != keyring.StateDisabled {
					t.Errorf("after CancelKeyDeletion: %s, want Disabled", got)
				}
			},
		},
		"replica Disabled, primary Enabled": {
			state: keyring.StateDisabled,
			setup: func(t *testing.T, env *testEnv) *ksFixture {
				us, eu := inRegion("us-east-1"), inRegion("eu-west-1")
				p := ksEnabled(t, env, us, true)
				f := &ksFixture{ctx: eu, id: p.id, blob: p.blob, sign: p.sign, sig: p.sig, mac: p.mac, macv: p.macv}
				if err := f.each(func(id string) error {
					_, err := env.kr.ReplicateKey(us, &keyring.ReplicateKeyInput{KeyId: id, ReplicaRegion: "eu-west-1"})
					return err
				}); err != nil {
					t.Fatal(err)
				}
				o, err := env.kr.CreateKey(eu, &keyring.CreateKeyInput{})
				if err != nil {
					t.Fatal(err)
				}
				f.other = o.KeyMetadata.KeyId
				if err := f.each(func(id string) error { return env.kr.DisableKey(eu, &keyring.KeyIDInput{KeyId: id}) }); err != nil {
					t.Fatal(err)
				}
				return f
			},
			want: crypto(map[string][]string{
				"DescribeKey": one(ok), "EnableKey": one(ok), "DisableKey": one(ok), "ScheduleKeyDeletion": one(ok),
				"CancelKeyDeletion": one(exInvalid), // [4]
				// AWS manages rotation on the primary and refuses it on a
				// replica (UnsupportedOperationException); a Disabled
				// replica may be refused for either reason first.
				"EnableKeyRotation": {exUnsupport, exDisabled}, "RotateKeyOnDemand": {exUnsupport, exDisabled},
				"CreateAlias": one(ok), "TagResource": one(ok), "UpdateKeyDescription": one(ok),
				"GetKeyPolicy": one(ok), "PutKeyPolicy": one(ok), "CreateGrant": one(exDisabled), // [1]
				"ImportKeyMaterial": one(exUnsupport), // [9]
			}, one(exDisabled)), // [1]
			check: func(t *testing.T, env *testEnv, f *ksFixture) {
				// The primary keeps its own state and works in its region.
				us := inRegion("us-east-1")
				md, err := env.kr.DescribeKey(us, &keyring.KeyIDInput{KeyId: f.id})
				if err != nil || md.KeyMetadata.KeyState != keyring.StateEnabled {
					t.Fatalf("primary: %+v, %v", md, err)
				}
				if _, err := env.kr.Decrypt(us, &keyring.DecryptInput{CiphertextBlob: f.blob}); err != nil {
					t.Errorf("Decrypt with the primary: %v", err)
				}
				if _, err := env.kr.Sign(us, &keyring.SignInput{KeyId: f.sign, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"}); err != nil {
					t.Errorf("Sign with the primary: %v", err)
				}
			},
		},
	}
}

// TestKeyStateModel drives a key into each state of AWS's key state table
// and calls every operation the table lists, expecting success or the
// exception the table names.
func TestKeyStateModel(t *testing.T) {
	for name, row := range ksRows() {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t)
			ops := ksOps(env)
			shared := row.setup(t, env)
			if got := describeIn(t, env, shared).KeyState; got != row.state {
				t.Fatalf("KeyState %s, want %s", got, row.state)
			}
			for n, op := range ops {
				want, listed := row.want[op.name]
				if !listed {
					t.Errorf("%s: no expectation", op.name)
					continue
				}
				f := shared
				if op.fresh {
					f = row.setup(t, env)
				}
				err := op.run(f, n)
				if err == errSkipOp {
					continue
				}
				got := ok
				if err != nil {
					got, _ = keyring.ErrorType(err)
				}
				if !slices.Contains(want, got) {
					t.Errorf("%s: got %q (%v), AWS table says %q", op.name, got, err, want)
				}
			}
			if row.check != nil {
				row.check(t, env, row.setup(t, env))
			}
		})
	}
}

func describeIn(t *testing.T, env *testEnv, f *ksFixture) keyring.KeyMetadata {
	t.Helper()
	out, err := env.kr.DescribeKey(f.ctx, &keyring.KeyIDInput{KeyId: f.id})
	if err != nil {
		t.Fatalf("DescribeKey: %v", err)
	}
	return out.KeyMetadata
}
