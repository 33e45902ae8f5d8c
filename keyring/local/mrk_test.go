package local_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// inRegion is a request context whose principal signed for region.
func inRegion(region string) context.Context {
	return keyring.WithPrincipal(context.Background(), keyring.Principal{
		ARN: "arn:aws:iam::111122223333:root", Account: "111122223333", Region: region})
}

func TestMultiRegionKeys(t *testing.T) {
	env := newEnv(t)
	kr := env.kr
	us, eu := inRegion("us-east-1"), inRegion("eu-west-1")

	// A UUID key made before any replica: us-east-1 sees the default region.
	plain, err := kr.CreateKey(us, &keyring.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := kr.CreateKey(us, &keyring.CreateKeyInput{MultiRegion: true, Description: "primary"})
	if err != nil {
		t.Fatal(err)
	}
	m := c.KeyMetadata
	if !keyring.IsMultiRegionKeyID(m.KeyId) || !m.MultiRegion || m.MultiRegionConfiguration == nil ||
		m.MultiRegionConfiguration.MultiRegionKeyType != keyring.MultiRegionPrimary ||
		m.MultiRegionConfiguration.PrimaryKey == nil || m.MultiRegionConfiguration.PrimaryKey.Arn != m.Arn ||
		m.MultiRegionConfiguration.PrimaryKey.Region != "local" || len(m.MultiRegionConfiguration.ReplicaKeys) != 0 {
		t.Fatalf("CreateKey MultiRegion: %+v %+v", m, m.MultiRegionConfiguration)
	}
	if !strings.HasPrefix(m.Arn, "arn:aws:kms:local:") || !strings.HasSuffix(m.Arn, ":key/"+m.KeyId) {
		t.Fatalf("ARN %s", m.Arn)
	}
	enc, err := kr.Encrypt(us, &keyring.EncryptInput{KeyId: m.KeyId, Plaintext: []byte("hello"),
		EncryptionContext: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if enc.KeyId != m.Arn {
		t.Fatalf("Encrypt KeyId %s, want %s", enc.KeyId, m.Arn)
	}
	// A version made before the replica travels with it.
	if _, err := kr.RotateKeyOnDemand(us, &keyring.KeyIDInput{KeyId: m.KeyId}); err != nil {
		t.Fatal(err)
	}

	// Refusals.
	for _, tt := range []struct {
		name string
		in   keyring.ReplicateKeyInput
		want error
	}{
		{"not multi-Region", keyring.ReplicateKeyInput{KeyId: plain.KeyMetadata.KeyId, ReplicaRegion: "eu-west-1"}, keyring.ErrUnsupported},
		{"same region", keyring.ReplicateKeyInput{KeyId: m.KeyId, ReplicaRegion: "local"}, keyring.ErrValidation},
		{"bad region", keyring.ReplicateKeyInput{KeyId: m.KeyId, ReplicaRegion: "EU WEST"}, keyring.ErrValidation},
		{"unknown key", keyring.ReplicateKeyInput{KeyId: "mrk-00000000000000000000000000000000", ReplicaRegion: "eu-west-1"}, keyring.ErrNotFound},
	} {
		if _, err := kr.ReplicateKey(us, &tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: ReplicateKey: %v, want %v", tt.name, err, tt.want)
		}
	}

	r, err := kr.ReplicateKey(us, &keyring.ReplicateKeyInput{KeyId: m.KeyId, ReplicaRegion: "eu-west-1",
		Description: "replica", Tags: []keyring.Tag{{TagKey: "k", TagValue: "v"}}})
	if err != nil {
		t.Fatal(err)
	}
	rm := r.ReplicaKeyMetadata
	if rm.KeyId != m.KeyId || rm.Arn != strings.Replace(m.Arn, ":local:", ":eu-west-1:", 1) ||
		rm.Description != "replica" || rm.MultiRegionConfiguration.MultiRegionKeyType != keyring.MultiRegionReplica ||
		rm.MultiRegionConfiguration.PrimaryKey.Arn != m.Arn || len(rm.MultiRegionConfiguration.ReplicaKeys) != 1 ||
		rm.MultiRegionConfiguration.ReplicaKeys[0] != (keyring.MultiRegionKey{Arn: rm.Arn, Region: "eu-west-1"}) ||
		len(r.ReplicaTags) != 1 || !strings.Contains(r.ReplicaPolicy, "kms:*") || rm.CurrentKeyVersion != 2 {
		t.Fatalf("ReplicateKey: %+v %+v %+v", r, rm, rm.MultiRegionConfiguration)
	}
	if _, err := kr.ReplicateKey(us, &keyring.ReplicateKeyInput{KeyId: m.KeyId, ReplicaRegion: "eu-west-1"}); !errors.Is(err, keyring.ErrAlreadyExists) {
		t.Fatalf("second replica: %v", err)
	}
	if _, err := kr.ReplicateKey(eu, &keyring.ReplicateKeyInput{KeyId: m.KeyId, ReplicaRegion: "ap-south-1"}); !errors.Is(err, keyring.ErrUnsupported) {
		t.Fatalf("replicating a replica: %v", err)
	}

	// The primary describes its replica.
	d, err := kr.DescribeKey(us, &keyring.KeyIDInput{KeyId: m.KeyId})
	if err != nil || len(d.KeyMetadata.MultiRegionConfiguration.ReplicaKeys) != 1 {
		t.Fatalf("DescribeKey primary: %+v %v", d, err)
	}

	// The replica decrypts what the primary encrypted, and the reverse.
	dec, err := kr.Decrypt(eu, &keyring.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"a": "b"}})
	if err != nil || string(dec.Plaintext) != "hello" || dec.KeyId != rm.Arn {
		t.Fatalf("Decrypt in eu-west-1: %+v %v", dec, err)
	}
	enc2, err := kr.Encrypt(eu, &keyring.EncryptInput{KeyId: rm.Arn, Plaintext: []byte("back")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := kr.Decrypt(us, &keyring.DecryptInput{CiphertextBlob: enc2.CiphertextBlob, KeyId: m.KeyId}); err != nil || string(dec.Plaintext) != "back" {
		t.Fatalf("Decrypt in the primary's region: %v", err)
	}

	// Keys of one region are invisible from another.
	lk, err := kr.ListKeys(eu, &keyring.ListInput{})
	if err != nil || len(lk.Keys) != 1 || lk.Keys[0].KeyId != m.KeyId || lk.Keys[0].KeyArn != rm.Arn {
		t.Fatalf("ListKeys eu-west-1: %+v %v", lk, err)
	}
	lk, err = kr.ListKeys(us, &keyring.ListInput{})
	if err != nil || len(lk.Keys) != 2 {
		t.Fatalf("ListKeys us-east-1 (default region): %+v %v", lk, err)
	}
	if _, err := kr.DescribeKey(eu, &keyring.KeyIDInput{KeyId: plain.KeyMetadata.KeyId}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("DescribeKey of a default-region key from eu-west-1: %v", err)
	}
	if _, err := kr.DescribeKey(eu, &keyring.KeyIDInput{KeyId: m.Arn}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("DescribeKey of the primary's ARN from eu-west-1: %v", err)
	}
	if _, err := kr.Encrypt(eu, &keyring.EncryptInput{KeyId: plain.KeyMetadata.KeyId, Plaintext: []byte("x")}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("Encrypt with a default-region key from eu-west-1: %v", err)
	}
	// The unix socket and callers without a principal see the default region.
	if _, err := kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: plain.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}

	// The replica has its own state: disabling it leaves the primary enabled.
	if err := kr.DisableKey(eu, &keyring.KeyIDInput{KeyId: m.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Encrypt(us, &keyring.EncryptInput{KeyId: m.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("primary after disabling the replica: %v", err)
	}
	if _, err := kr.Encrypt(eu, &keyring.EncryptInput{KeyId: m.KeyId, Plaintext: []byte("x")}); !errors.Is(err, keyring.ErrDisabled) {
		t.Fatalf("disabled replica: %v", err)
	}
	if err := kr.EnableKey(eu, &keyring.KeyIDInput{KeyId: m.KeyId}); err != nil {
		t.Fatal(err)
	}
	// Its own policy.
	pol, err := kr.GetKeyPolicy(eu, &keyring.GetKeyPolicyInput{KeyId: m.KeyId, PolicyName: "default"})
	if err != nil || pol.Policy != r.ReplicaPolicy {
		t.Fatalf("GetKeyPolicy of the replica: %v", err)
	}

	// Rotation is the primary's and reaches the replica.
	if _, err := kr.RotateKeyOnDemand(eu, &keyring.KeyIDInput{KeyId: m.KeyId}); !errors.Is(err, keyring.ErrUnsupported) {
		t.Fatalf("rotating a replica: %v", err)
	}
	if _, err := kr.RotateKeyOnDemand(us, &keyring.KeyIDInput{KeyId: m.KeyId}); err != nil {
		t.Fatal(err)
	}
	enc3, err := kr.Encrypt(us, &keyring.EncryptInput{KeyId: m.KeyId, Plaintext: []byte("v3")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := kr.Decrypt(eu, &keyring.DecryptInput{CiphertextBlob: enc3.CiphertextBlob}); err != nil || !bytes.Equal(dec.Plaintext, []byte("v3")) {
		t.Fatalf("replica decrypting the new version: %v", err)
	}
	if d, _ := kr.DescribeKey(eu, &keyring.KeyIDInput{KeyId: m.KeyId}); d.KeyMetadata.CurrentKeyVersion != 3 {
		t.Fatalf("replica's version %d, want 3", d.KeyMetadata.CurrentKeyVersion)
	}

	// UpdatePrimaryRegion swaps the roles.
	if err := kr.UpdatePrimaryRegion(us, &keyring.UpdatePrimaryRegionInput{KeyId: m.KeyId, PrimaryRegion: "ap-south-1"}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("UpdatePrimaryRegion to a region without a replica: %v", err)
	}
	if err := kr.UpdatePrimaryRegion(us, &keyring.UpdatePrimaryRegionInput{KeyId: m.KeyId, PrimaryRegion: "eu-west-1"}); err != nil {
		t.Fatal(err)
	}
	d, err = kr.DescribeKey(eu, &keyring.KeyIDInput{KeyId: m.KeyId})
	if err != nil || d.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType != keyring.MultiRegionPrimary ||
		d.KeyMetadata.MultiRegionConfiguration.PrimaryKey.Region != "eu-west-1" ||
		d.KeyMetadata.MultiRegionConfiguration.ReplicaKeys[0].Region != "local" {
		t.Fatalf("after UpdatePrimaryRegion: %+v %v", d.KeyMetadata.MultiRegionConfiguration, err)
	}
	if err := kr.UpdatePrimaryRegion(us, &keyring.UpdatePrimaryRegionInput{KeyId: m.KeyId, PrimaryRegion: "eu-west-1"}); !errors.Is(err, keyring.ErrUnsupported) {
		t.Fatalf("UpdatePrimaryRegion on the new replica: %v", err)
	}
	// Now the replica in the default region may go.
	if _, err := kr.ScheduleKeyDeletion(us, &keyring.ScheduleKeyDeletionInput{KeyId: m.KeyId}); err != nil {
		t.Fatalf("deleting the replica: %v", err)
	}

	// Everything survives a reopen.
	env.reopen()
	d, err = env.kr.DescribeKey(eu, &keyring.KeyIDInput{KeyId: m.KeyId})
	if err != nil || d.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType != keyring.MultiRegionPrimary {
		t.Fatalf("after reopen: %v", err)
	}
	if dec, err := env.kr.Decrypt(eu, &keyring.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"a": "b"}}); err != nil || string(dec.Plaintext) != "hello" {
		t.Fatalf("Decrypt after reopen: %v", err)
	}
}

// An asymmetric multi-Region key signs in one region and verifies in the
// other.
func TestMultiRegionAsymmetric(t *testing.T) {
	env := newEnv(t)
	us, eu := inRegion("us-east-1"), inRegion("eu-west-1")
	c, err := env.kr.CreateKey(us, &keyring.CreateKeyInput{MultiRegion: true, KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"})
	if err != nil {
		t.Fatal(err)
	}
	id := c.KeyMetadata.KeyId
	if _, err := env.kr.ReplicateKey(us, &keyring.ReplicateKeyInput{KeyId: id, ReplicaRegion: "eu-west-1"}); err != nil {
		t.Fatal(err)
	}
	s, err := env.kr.Sign(us, &keyring.SignInput{KeyId: id, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.kr.Verify(eu, &keyring.VerifyInput{KeyId: id, Message: []byte("m"), Signature: s.Signature, SigningAlgorithm: "ECDSA_SHA_256"}); err != nil {
		t.Fatalf("Verify with the replica: %v", err)
	}
}

// A bundle carries regions and replica sets (payload format 4): the
// restored replica decrypts what the primary encrypted, in its region.
func TestMultiRegionBundle(t *testing.T) {
	src := newEnv(t)
	us, eu := inRegion("us-east-1"), inRegion("eu-west-1")
	c, err := src.kr.CreateKey(us, &keyring.CreateKeyInput{MultiRegion: true})
	if err != nil {
		t.Fatal(err)
	}
	id := c.KeyMetadata.KeyId
	if _, err := src.kr.ReplicateKey(us, &keyring.ReplicateKeyInput{KeyId: id, ReplicaRegion: "eu-west-1"}); err != nil {
		t.Fatal(err)
	}
	if err := src.kr.CreateAlias(eu, &keyring.AliasInput{AliasName: "alias/eu", TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	enc, err := src.kr.Encrypt(us, &keyring.EncryptInput{KeyId: id, Plaintext: []byte("p")})
	if err != nil {
		t.Fatal(err)
	}
	b := src.export()

	dst := newEnv(t)
	if _, err := dst.importBundle(b, false); err != nil {
		t.Fatal(err)
	}
	d, err := dst.kr.DescribeKey(eu, &keyring.KeyIDInput{KeyId: "alias/eu"})
	if err != nil || d.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType != keyring.MultiRegionReplica ||
		d.KeyMetadata.MultiRegionConfiguration.PrimaryKey.Region != "local" {
		t.Fatalf("imported replica: %+v %v", d, err)
	}
	if dec, err := dst.kr.Decrypt(eu, &keyring.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(dec.Plaintext) != "p" {
		t.Fatalf("Decrypt with the imported replica: %v", err)
	}
	// The alias is eu-west-1's only.
	if _, err := dst.kr.DescribeKey(us, &keyring.KeyIDInput{KeyId: "alias/eu"}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("eu-west-1 alias from the default region: %v", err)
	}
	// Importing again changes nothing.
	if _, err := dst.importBundle(b, false); err != nil {
		t.Fatal(err)
	}
}

// A primary scheduled for deletion while it has replicas waits in
// PendingReplicaDeletion, without a DeletionDate; when its last replica is
// deleted it becomes PendingDeletion, its waiting period counted from that
// deletion, as in AWS KMS.
func TestMultiRegionPendingReplicaDeletion(t *testing.T) {
	env := newEnv(t)
	kr := env.kr
	eu, ap := inRegion("eu-west-1"), inRegion("ap-south-1")
	c, err := kr.CreateKey(ctxb(), &keyring.CreateKeyInput{MultiRegion: true})
	if err != nil {
		t.Fatal(err)
	}
	id := c.KeyMetadata.KeyId
	for _, r := range []string{"eu-west-1", "ap-south-1"} {
		if _, err := kr.ReplicateKey(ctxb(), &keyring.ReplicateKeyInput{KeyId: id, ReplicaRegion: r}); err != nil {
			t.Fatal(err)
		}
	}
	schedule := func(ctx context.Context, days int) *keyring.ScheduleKeyDeletionOutput {
		t.Helper()
		out, err := kr.ScheduleKeyDeletion(ctx, &keyring.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: days})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := schedule(ctxb(), 7)
	if out.KeyState != keyring.StatePendingReplicaDeletion || !out.DeletionDate.IsZero() || out.PendingWindowInDays != 7 {
		t.Fatalf("ScheduleKeyDeletion of a primary with replicas: %+v", out)
	}
	wantPRD := func(what string) {
		t.Helper()
		md := env.describe(id)
		if md.KeyState != keyring.StatePendingReplicaDeletion || md.Enabled || md.DeletionDate != nil || md.PendingDeletionWindowInDays != 7 {
			t.Fatalf("%s: KeyState %s Enabled %v DeletionDate %v window %d", what, md.KeyState, md.Enabled, md.DeletionDate, md.PendingDeletionWindowInDays)
		}
	}
	wantPRD("DescribeKey")
	_, err = kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	wantName(t, "Encrypt", err, "KMSInvalidStateException")
	_, err = kr.ReplicateKey(ctxb(), &keyring.ReplicateKeyInput{KeyId: id, ReplicaRegion: "us-west-2"})
	wantName(t, "ReplicateKey", err, "KMSInvalidStateException")
	_, err = kr.ScheduleKeyDeletion(ctxb(), &keyring.ScheduleKeyDeletionInput{KeyId: id})
	wantName(t, "ScheduleKeyDeletion again", err, "KMSInvalidStateException")
	err = kr.EnableKey(ctxb(), &keyring.KeyIDInput{KeyId: id})
	wantName(t, "EnableKey", err, "KMSInvalidStateException")
	// The replicas keep their own state.
	if _, err := kr.Encrypt(eu, &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("Encrypt with a replica: %v", err)
	}
	// CancelKeyDeletion leaves the primary Disabled, as from PendingDeletion.
	if _, err := kr.CancelKeyDeletion(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	if md := env.describe(id); md.KeyState != keyring.StateDisabled || md.PendingDeletionWindowInDays != 0 {
		t.Fatalf("after CancelKeyDeletion: %s, window %d", md.KeyState, md.PendingDeletionWindowInDays)
	}
	schedule(ctxb(), 7)
	env.reopen()
	kr = env.kr
	wantPRD("after reopen")
	// A bundle carries the state.
	dst := newEnv(t)
	if _, err := dst.importBundle(env.export(), false); err != nil {
		t.Fatalf("importing a bundle with a PendingReplicaDeletion key: %v", err)
	}
	if md := dst.describe(id); md.KeyState != keyring.StatePendingReplicaDeletion || md.PendingDeletionWindowInDays != 7 {
		t.Fatalf("imported: %s, window %d", md.KeyState, md.PendingDeletionWindowInDays)
	}

	// The replicas go, at different dates; the primary waits for the last.
	t0 := env.clock.Now()
	schedule(eu, 7)
	schedule(ap, 30)
	env.clock.Advance(8 * day)
	if _, err := kr.RotateDue(ctxb()); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.DescribeKey(eu, &keyring.KeyIDInput{KeyId: id}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("eu-west-1 replica after its deletion date: %v", err)
	}
	wantPRD("with one replica left")
	env.clock.Advance(25 * day)
	md := env.describe(id) // the lazy deletion of the last replica runs on this use
	want := t0.Add(37 * day)
	if md.KeyState != keyring.StatePendingDeletion || md.DeletionDate == nil || !md.DeletionDate.Equal(want) || md.PendingDeletionWindowInDays != 7 {
		t.Fatalf("after the last replica's deletion: %s, DeletionDate %v (want %v), window %d", md.KeyState, md.DeletionDate, want, md.PendingDeletionWindowInDays)
	}
	if md.MultiRegionConfiguration == nil || len(md.MultiRegionConfiguration.ReplicaKeys) != 0 {
		t.Fatalf("replicas after their deletion: %+v", md.MultiRegionConfiguration)
	}
	env.clock.Advance(5 * day)
	if _, err := kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: id}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("primary after its deletion date: %v", err)
	}
}

// Rotation settings are the set's: a replica reports its primary's
// current settings, including those changed after it was made.
func TestMultiRegionRotationShared(t *testing.T) {
	env := newEnv(t)
	kr := env.kr
	eu := inRegion("eu-west-1")
	c, err := kr.CreateKey(ctxb(), &keyring.CreateKeyInput{MultiRegion: true})
	if err != nil {
		t.Fatal(err)
	}
	id := c.KeyMetadata.KeyId
	if _, err := kr.ReplicateKey(ctxb(), &keyring.ReplicateKeyInput{KeyId: id, ReplicaRegion: "eu-west-1"}); err != nil {
		t.Fatal(err)
	}
	status := func(ctx context.Context) *keyring.GetKeyRotationStatusOutput {
		t.Helper()
		out, err := kr.GetKeyRotationStatus(ctx, &keyring.KeyIDInput{KeyId: id})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	same := func(what string, enabled bool, days int) {
		t.Helper()
		p, r := status(ctxb()), status(eu)
		if p.KeyRotationEnabled != enabled || p.RotationPeriodInDays != days {
			t.Fatalf("%s: primary %+v", what, p)
		}
		if r.KeyRotationEnabled != p.KeyRotationEnabled || r.RotationPeriodInDays != p.RotationPeriodInDays ||
			(r.NextRotationDate == nil) != (p.NextRotationDate == nil) ||
			r.NextRotationDate != nil && !r.NextRotationDate.Equal(p.NextRotationDate.Time) {
			t.Fatalf("%s: replica %+v, primary %+v", what, r, p)
		}
		if !strings.Contains(r.KeyId, ":eu-west-1:") {
			t.Fatalf("%s: replica's status names %s", what, r.KeyId)
		}
	}
	same("never enabled", false, 0)
	if err := kr.EnableKeyRotation(ctxb(), &keyring.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: 180}); err != nil {
		t.Fatal(err)
	}
	same("enabled on the primary", true, 180)
	err = kr.EnableKeyRotation(eu, &keyring.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: 90})
	wantName(t, "EnableKeyRotation on the replica", err, "UnsupportedOperationException")
	err = kr.DisableKeyRotation(eu, &keyring.KeyIDInput{KeyId: id})
	wantName(t, "DisableKeyRotation on the replica", err, "UnsupportedOperationException")
	same("refused on the replica", true, 180)
	if err := kr.EnableKeyRotation(ctxb(), &keyring.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: 90}); err != nil {
		t.Fatal(err)
	}
	same("new period", true, 90)
	// The new primary carries the settings over.
	if err := kr.UpdatePrimaryRegion(ctxb(), &keyring.UpdatePrimaryRegionInput{KeyId: id, PrimaryRegion: "eu-west-1"}); err != nil {
		t.Fatal(err)
	}
	same("after UpdatePrimaryRegion", true, 90)
	if err := kr.DisableKeyRotation(eu, &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	same("disabled on the new primary", false, 0)
}

// A key made in the default region stays in it when the keyring is
// reopened with another default: invisible from the new default, visible
// from its own region with its own ARN, and written back in place.
func TestRegionPersisted(t *testing.T) {
	env := newEnv(t)
	reopenIn := func(region string) { t.Helper(); env.reopenIn(region) }
	a := env.createKey()
	mrk, err := env.kr.CreateKey(ctxb(), &keyring.CreateKeyInput{MultiRegion: true})
	if err != nil {
		t.Fatal(err)
	}
	blob := env.encrypt(a, []byte("a"), nil)

	reopenIn("elsewhere")
	inLocal := inRegion(local.DefaultRegion)
	for _, id := range []string{a, mrk.KeyMetadata.KeyId} {
		if _, err := env.kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: id}); !errors.Is(err, keyring.ErrNotFound) {
			t.Fatalf("key %s from the new default region: %v", id, err)
		}
		d, err := env.kr.DescribeKey(inLocal, &keyring.KeyIDInput{KeyId: id})
		if err != nil || !strings.HasPrefix(d.KeyMetadata.Arn, "arn:aws:kms:local:") {
			t.Fatalf("key %s from its region: %+v, %v", id, d, err)
		}
	}
	if _, err := env.kr.Decrypt(ctxb(), &keyring.DecryptInput{CiphertextBlob: blob}); !errors.Is(err, keyring.ErrNotFound) && !errors.Is(err, keyring.ErrInvalidCiphertext) {
		t.Fatalf("Decrypt from the new default region: %v", err)
	}
	if dec, err := env.kr.Decrypt(inLocal, &keyring.DecryptInput{CiphertextBlob: blob}); err != nil || string(dec.Plaintext) != "a" {
		t.Fatalf("Decrypt in the key's region: %v", err)
	}
	// A write while the region is not the default keeps the key in place.
	if err := env.kr.UpdateKeyDescription(inLocal, &keyring.UpdateKeyDescriptionInput{KeyId: a, Description: "moved?"}); err != nil {
		t.Fatal(err)
	}
	b := env.createKey() // in the new default
	if d := env.describe(b); !strings.HasPrefix(d.Arn, "arn:aws:kms:elsewhere:") {
		t.Fatalf("key made in the new default: %s", d.Arn)
	}

	reopenIn(local.DefaultRegion)
	if d := env.describe(a); d.Description != "moved?" || !strings.HasPrefix(d.Arn, "arn:aws:kms:local:") {
		t.Fatalf("back in the default region: %+v", d)
	}
	if _, err := env.kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: b}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("key of the former default from the default region: %v", err)
	}
	if _, err := env.kr.DescribeKey(inRegion("elsewhere"), &keyring.KeyIDInput{KeyId: b}); err != nil {
		t.Fatalf("key of the former default from its region: %v", err)
	}
	l, err := env.kr.ListKeys(ctxb(), &keyring.ListInput{})
	if err != nil || len(l.Keys) != 2 {
		t.Fatalf("ListKeys in the default region: %+v, %v (want the two keys made there, once each)", l, err)
	}
	// A replica into a default region that a set's primary was made in
	// under another default is refused rather than stored over it.
	reopenIn("elsewhere")
	_, err = env.kr.ReplicateKey(inLocal, &keyring.ReplicateKeyInput{KeyId: mrk.KeyMetadata.KeyId, ReplicaRegion: "elsewhere"})
	wantName(t, "ReplicateKey into the new default", err, "UnsupportedOperationException")
}

// TestRotateDueCountsOnlyRotations: a replica's deletion falling due is
// work for its whole multi-Region set, but not a rotation, whichever
// record of the set RotateDue visits first; a rotation is counted once.
func TestRotateDueCountsOnlyRotations(t *testing.T) {
	env := newEnv(t)
	kr := env.kr
	var ids []string
	for range 8 { // RotateDue visits keys in map order: several sets make both orders likely
		c, err := kr.CreateKey(ctxb(), &keyring.CreateKeyInput{MultiRegion: true})
		if err != nil {
			t.Fatal(err)
		}
		id := c.KeyMetadata.KeyId
		if _, err := kr.ReplicateKey(ctxb(), &keyring.ReplicateKeyInput{KeyId: id, ReplicaRegion: "eu-west-1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := kr.ScheduleKeyDeletion(inRegion("eu-west-1"), &keyring.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: 7}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	env.clock.Advance(8 * day)
	if n, err := kr.RotateDue(ctxb()); err != nil || n != 0 {
		t.Fatalf("RotateDue after replica deletions fell due: %d rotations, %v; want 0", n, err)
	}
	for _, id := range ids {
		if md := env.describe(id); md.KeyState != keyring.StateEnabled || len(md.MultiRegionConfiguration.ReplicaKeys) != 0 {
			t.Fatalf("primary %s after its replica's deletion: %s, replicas %v", id, md.KeyState, md.MultiRegionConfiguration.ReplicaKeys)
		}
	}

	rot := ids[0]
	if err := kr.EnableKeyRotation(ctxb(), &keyring.EnableKeyRotationInput{KeyId: rot, RotationPeriodInDays: 90}); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(91 * day)
	if n, err := kr.RotateDue(ctxb()); err != nil || n != 1 {
		t.Fatalf("RotateDue with one rotation due: %d, %v; want 1", n, err)
	}
}

// reopenIn closes env's keyring and opens it again with region as the
// default region.
func (env *testEnv) reopenIn(region string) {
	env.t.Helper()
	if err := env.kr.Close(); err != nil {
		env.t.Fatal(err)
	}
	env.kr = nil
	opts := env.options(false)
	opts.Region = region
	kr, err := local.Open(env.dir, testPass, opts)
	if err != nil {
		env.t.Fatal(err)
	}
	env.kr = kr
}

// TestImportedKeyKeepsItsRegion: a key imported from a bundle into the
// default region stays there when a later Open has another default, like
// a key created there (every record write stamps its home region).
func TestImportedKeyKeepsItsRegion(t *testing.T) {
	src, dst := newEnv(t), newEnv(t)
	id := src.createKey()
	if _, err := dst.importBundle(src.export(), false); err != nil {
		t.Fatal(err)
	}
	dst.reopenIn("elsewhere")
	if _, err := dst.kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: id}); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("imported key from the new default region: %v", err)
	}
	if _, err := dst.kr.DescribeKey(inRegion(local.DefaultRegion), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatalf("imported key from its region: %v", err)
	}
}
