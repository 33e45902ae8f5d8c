package local_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/keyspec"
	"github.com/kmsfs/kmsfs/keyring/local"
)

// The randomized key state model test: random sequences of lifecycle,
// import, rotation, multi-Region and cryptographic operations run against
// the keyring and against rmModel, a small model of AWS KMS's key states
// (one state per key per region). After every step the outcome (success or
// the AWS exception name) must be the model's, and DescribeKey and
// GetKeyRotationStatus in every region must agree with it: KeyState,
// Enabled, KeyManager, DeletionDate, PendingDeletionWindowInDays,
// MultiRegionConfiguration and KeyRotationEnabled. keystate_model_test.go
// checks the table cell by cell; this test checks the paths between cells.
//
// Where the model follows kmsfs rather than a documented AWS behaviour, it
// says so at the rule (search "kmsfs:").

var keystateSeed = flag.Uint64("keystate.seed", 0, "seed of TestKeyStateRandom (0: random; also KMSFS_KEYSTATE_SEED)")

// Sizes of one run: TestKeyStateRandom runs rmSeeds seeds of rmSteps
// steps over at most rmMaxKeys keys at a time.
//
// There is no fuzz target: the machine needs a keyring, and under the fuzz
// engine Badger's background goroutines make every input's coverage new,
// so 2,000 executions took two minutes (9/s, a tenth of them "interesting")
// where scripts/test gives each target 20,000.
const (
	rmSteps   = 300
	rmSeeds   = 2
	rmMaxKeys = 6
)

// rmRegions are the model's regions; the first is the keyring's default.
var rmRegions = []string{local.DefaultRegion, "ap-south-1", "eu-west-1"}

// Kinds of key the model creates.
const (
	rmSym = iota
	rmSign
	rmHMAC
	rmExternal
	rmKinds
)

var rmKindNames = []string{"SYMMETRIC_DEFAULT", "ECC_NIST_P256", "HMAC_256", "EXTERNAL"}

// rmRec is one key's record in one region.
type rmRec struct {
	state   string
	primary bool      // of a multi-Region key
	window  int       // PendingDeletionWindowInDays, while scheduled
	del     time.Time // DeletionDate, in PendingDeletion
	validTo time.Time // imported material's expiry, zero if none
	hasMat  bool      // an EXTERNAL key's material is imported
}

func (r *rmRec) pending() bool {
	return r.state == keyring.StatePendingDeletion || r.state == keyring.StatePendingReplicaDeletion
}

// rmKey is one key (a multi-Region key's set) of the model.
type rmKey struct {
	id       string
	kind     int
	mrk      bool
	rotation bool // shared by a multi-Region set
	recs     map[string]*rmRec
	material []byte // imported material, once chosen
	blob     []byte // a ciphertext made under the key, or nil
}

func (k *rmKey) primaryRegion() string {
	for r, rec := range k.recs {
		if rec.primary {
			return r
		}
	}
	return ""
}

type rmModel struct {
	keys []*rmKey
}

// advance applies what is due at now, as the keyring does lazily: expired
// material (Enabled or Disabled keys become PendingImport) and deletions in
// date order, where the deletion of a primary's last replica starts the
// primary's own waiting period at that replica's deletion date.
func (m *rmModel) advance(now time.Time) {
	for _, k := range m.keys {
		for _, r := range k.recs {
			if !r.validTo.IsZero() && !now.Before(r.validTo) && (r.state == keyring.StateEnabled || r.state == keyring.StateDisabled) {
				r.state, r.validTo, r.hasMat = keyring.StatePendingImport, time.Time{}, false
			}
		}
	}
	for {
		var dk *rmKey
		var dr string
		for _, k := range m.keys {
			for region, r := range k.recs {
				if r.state == keyring.StatePendingDeletion && !now.Before(r.del) && (dk == nil || r.del.Before(dk.recs[dr].del)) {
					dk, dr = k, region
				}
			}
		}
		if dk == nil {
			return
		}
		gone := dk.recs[dr]
		delete(dk.recs, dr)
		if p := dk.recs[dk.primaryRegion()]; p != nil && p.state == keyring.StatePendingReplicaDeletion && len(dk.recs) == 1 {
			p.state, p.del = keyring.StatePendingDeletion, gone.del.Add(time.Duration(p.window)*day)
		}
		if len(dk.recs) == 0 {
			m.keys = slices.DeleteFunc(m.keys, func(k *rmKey) bool { return k == dk })
		}
	}
}

// usable is the model of every cryptographic operation's state check.
func (r *rmRec) usable() string {
	switch r.state {
	case keyring.StateEnabled:
		return ok
	case keyring.StateDisabled:
		return exDisabled
	}
	// kmsfs answers KMSInvalidStateException where the table allows
	// DisabledException too ([2] or [3]).
	return exInvalid
}

// rotatable is the model of the rotation checks that come before the
// state check: replicas, asymmetric, HMAC and imported keys refuse
// rotation settings.
func (k *rmKey) rotatable(r *rmRec) string {
	if (k.mrk && !r.primary) || k.kind != rmSym {
		return exUnsupport
	}
	return ok
}

// chooser is the source of a run's choices.
type chooser interface {
	IntN(n int) int // a choice in [0, n), as math/rand/v2's
}

// machine runs a model and a keyring side by side.
type machine struct {
	kr      *local.Keyring
	clock   *fakeClock
	m       rmModel
	c       chooser
	imports bool // whether steps may import key material (an RSA key each)
	maxKeys int
	trace   []string
}

func rmCtx(region string) context.Context { return inRegion(region) }

// openMachineKeyring opens a keyring for machines in dir. One multi-Region
// key with a replica in every model region makes every region hold keys
// from the start, so that no region falls back to the default (mrk.go).
func openMachineKeyring(tb testing.TB, dir string, clock *fakeClock) *local.Keyring {
	tb.Helper()
	kr, err := local.Open(dir, testPass, local.Options{Create: true, KDF: testkeys.KDF, Clock: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := kr.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	c, err := kr.CreateKey(rmCtx(rmRegions[0]), &keyring.CreateKeyInput{MultiRegion: true, Description: "anchor"})
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range rmRegions[1:] {
		if _, err := kr.ReplicateKey(rmCtx(rmRegions[0]), &keyring.ReplicateKeyInput{KeyId: c.KeyMetadata.KeyId, ReplicaRegion: r}); err != nil {
			tb.Fatal(err)
		}
	}
	return kr
}

// rmOp is one kind of step: it draws its arguments, calls the keyring,
// and returns what it did, the model's expected outcome and the keyring's,
// applying the effect to the model when the model expects success.
type rmOp struct {
	name   string
	weight int
	run    func(mc *machine) (what, want, got string)
}

func outcome(err error) string {
	if err == nil {
		return ok
	}
	name, _ := keyring.ErrorType(err)
	return name
}

// pick draws a key of the model and a region to address it from; rec is
// nil when the key has no record there (NotFoundException).
func (mc *machine) pick() (*rmKey, string, *rmRec) {
	if len(mc.m.keys) == 0 {
		return nil, "", nil
	}
	k := mc.m.keys[mc.c.IntN(len(mc.m.keys))]
	// Mostly a region the key is in; sometimes any, for NotFoundException.
	var regions []string
	for _, r := range rmRegions {
		if k.recs[r] != nil {
			regions = append(regions, r)
		}
	}
	if mc.c.IntN(4) == 0 {
		regions = rmRegions
	}
	region := regions[mc.c.IntN(len(regions))]
	return k, region, k.recs[region]
}

func keyWhat(op string, k *rmKey, region string, extra ...any) string {
	s := fmt.Sprintf("%s %s(%s", op, k.id, rmKindNames[k.kind])
	if k.mrk {
		s += ",mrk"
	}
	s += ") in " + region
	for _, e := range extra {
		s += fmt.Sprint(" ", e)
	}
	return s
}

// keyOp is an operation on one key whose expected outcome and effect
// depend only on the model: model returns the expectation given a record
// that exists and applies the effect on success.
func keyOp(name string, weight int, model func(mc *machine, k *rmKey, region string, r *rmRec) (want string, apply func()),
	call func(mc *machine, k *rmKey, region string) error) rmOp {
	return rmOp{name: name, weight: weight, run: func(mc *machine) (string, string, string) {
		k, region, r := mc.pick()
		if k == nil {
			return "", "", ""
		}
		want, apply := "NotFoundException", func() {}
		if r != nil {
			want, apply = model(mc, k, region, r)
		}
		got := outcome(call(mc, k, region))
		if got == want && want == ok {
			apply()
		}
		return keyWhat(name, k, region), want, got
	}}
}

func rmOps() []rmOp {
	stateOnly := func(to string) func(*machine, *rmKey, string, *rmRec) (string, func()) {
		return func(_ *machine, _ *rmKey, _ string, r *rmRec) (string, func()) {
			if r.pending() || r.state == keyring.StatePendingImport {
				return exInvalid, nil
			}
			return ok, func() { r.state = to }
		}
	}
	return []rmOp{
		{"CreateKey", 3, (*machine).create},
		keyOp("EnableKey", 2, stateOnly(keyring.StateEnabled), func(mc *machine, k *rmKey, region string) error {
			return mc.kr.EnableKey(rmCtx(region), &keyring.KeyIDInput{KeyId: k.id})
		}),
		keyOp("DisableKey", 2, stateOnly(keyring.StateDisabled), func(mc *machine, k *rmKey, region string) error {
			return mc.kr.DisableKey(rmCtx(region), &keyring.KeyIDInput{KeyId: k.id})
		}),
		{"ScheduleKeyDeletion", 2, (*machine).schedule},
		keyOp("CancelKeyDeletion", 2, func(_ *machine, k *rmKey, _ string, r *rmRec) (string, func()) {
			if !r.pending() {
				return exInvalid, nil
			}
			return ok, func() {
				r.state, r.window, r.del = keyring.StateDisabled, 0, time.Time{}
				if k.kind == rmExternal && !r.hasMat {
					// kmsfs: a key scheduled before any import goes back to
					// PendingImport, so that EnableKey cannot enable a key
					// without material. AWS documents only Disabled.
					r.state = keyring.StatePendingImport
				}
			}
		}, func(mc *machine, k *rmKey, region string) error {
			_, err := mc.kr.CancelKeyDeletion(rmCtx(region), &keyring.KeyIDInput{KeyId: k.id})
			return err
		}),
		{"ImportKeyMaterial", 2, (*machine).importMaterial},
		keyOp("DeleteImportedKeyMaterial", 1, func(_ *machine, k *rmKey, _ string, r *rmRec) (string, func()) {
			switch {
			case k.kind != rmExternal:
				return exUnsupport, nil
			case r.pending():
				// AWS's API reference: the material goes, the state (and
				// the deletion date) stays.
				return ok, func() { r.validTo, r.hasMat = time.Time{}, false }
			}
			return ok, func() { r.state, r.validTo, r.hasMat = keyring.StatePendingImport, time.Time{}, false }
		}, func(mc *machine, k *rmKey, region string) error {
			_, err := mc.kr.DeleteImportedKeyMaterial(rmCtx(region), &keyring.KeyIDInput{KeyId: k.id})
			return err
		}),
		{"advance", 2, (*machine).advanceClock},
		keyOp("RotateKeyOnDemand", 1, func(_ *machine, k *rmKey, _ string, r *rmRec) (string, func()) {
			// The state check comes first (rotation.go rotateLocked).
			if u := r.usable(); u != ok {
				return u, nil
			}
			return k.rotatable(r), func() {}
		}, func(mc *machine, k *rmKey, region string) error {
			_, err := mc.kr.RotateKeyOnDemand(rmCtx(region), &keyring.KeyIDInput{KeyId: k.id})
			return err
		}),
		keyOp("EnableKeyRotation", 1, func(_ *machine, k *rmKey, _ string, r *rmRec) (string, func()) {
			if u := k.rotatable(r); u != ok {
				return u, nil
			}
			if u := r.usable(); u != ok {
				return u, nil
			}
			return ok, func() { k.rotation = true }
		}, func(mc *machine, k *rmKey, region string) error {
			return mc.kr.EnableKeyRotation(rmCtx(region), &keyring.EnableKeyRotationInput{KeyId: k.id})
		}),
		keyOp("DisableKeyRotation", 1, func(_ *machine, k *rmKey, _ string, r *rmRec) (string, func()) {
			if u := k.rotatable(r); u != ok {
				return u, nil
			}
			if u := r.usable(); u != ok {
				return u, nil
			}
			return ok, func() { k.rotation = false }
		}, func(mc *machine, k *rmKey, region string) error {
			return mc.kr.DisableKeyRotation(rmCtx(region), &keyring.KeyIDInput{KeyId: k.id})
		}),
		{"ReplicateKey", 2, (*machine).replicate},
		{"UpdatePrimaryRegion", 1, (*machine).updatePrimary},
		keyOp("use", 4, func(_ *machine, _ *rmKey, _ string, r *rmRec) (string, func()) {
			return r.usable(), func() {}
		}, (*machine).use),
	}
}

func (mc *machine) create() (string, string, string) {
	kind, mrk, region := mc.c.IntN(rmKinds), mc.c.IntN(3) == 0, rmRegions[mc.c.IntN(len(rmRegions))]
	if len(mc.m.keys) >= mc.maxKeys {
		return "", "", ""
	}
	in := &keyring.CreateKeyInput{MultiRegion: mrk}
	switch kind {
	case rmSign:
		in.KeySpec, in.KeyUsage = "ECC_NIST_P256", "SIGN_VERIFY"
	case rmHMAC:
		in.KeySpec, in.KeyUsage = "HMAC_256", "GENERATE_VERIFY_MAC"
	case rmExternal:
		in.Origin = keyring.OriginExternal
	}
	what := fmt.Sprintf("CreateKey %s mrk=%v in %s", rmKindNames[kind], mrk, region)
	want := ok
	if kind == rmExternal && mrk {
		want = exUnsupport // kmsfs: multi-Region keys with imported material are refused
	}
	out, err := mc.kr.CreateKey(rmCtx(region), in)
	got := outcome(err)
	if got == ok && want == ok {
		k := &rmKey{id: out.KeyMetadata.KeyId, kind: kind, mrk: mrk, recs: map[string]*rmRec{region: {state: keyring.StateEnabled, primary: mrk}}}
		if kind == rmExternal {
			k.recs[region].state = keyring.StatePendingImport
		}
		mc.m.keys = append(mc.m.keys, k)
		what += " → " + k.id
	}
	return what, want, got
}

func (mc *machine) schedule() (string, string, string) {
	k, region, r := mc.pick()
	if k == nil {
		return "", "", ""
	}
	days := 7 + mc.c.IntN(24)
	want := "NotFoundException"
	switch {
	case r == nil:
	case r.pending():
		want = exInvalid
	default:
		want = ok
	}
	out, err := mc.kr.ScheduleKeyDeletion(rmCtx(region), &keyring.ScheduleKeyDeletionInput{KeyId: k.id, PendingWindowInDays: days})
	got := outcome(err)
	what := keyWhat("ScheduleKeyDeletion", k, region, days, "days")
	if got != ok || want != ok {
		return what, want, got
	}
	r.window = days
	if r.primary && len(k.recs) > 1 {
		r.state = keyring.StatePendingReplicaDeletion
	} else {
		r.state, r.del = keyring.StatePendingDeletion, mc.clock.Now().Add(time.Duration(days)*day)
	}
	if out.KeyState != r.state || out.PendingWindowInDays != days || out.DeletionDate.IsZero() != r.del.IsZero() ||
		!r.del.IsZero() && !out.DeletionDate.Equal(r.del) {
		got = fmt.Sprintf("output %s %v %d", out.KeyState, out.DeletionDate, out.PendingWindowInDays)
	}
	return what, want, got
}

// importMaterial imports the key's material (chosen at its first import),
// with an expiry of 1 to 72 hours or none.
func (mc *machine) importMaterial() (string, string, string) {
	k, region, r := mc.pick()
	hours := mc.c.IntN(73)
	if k == nil || !mc.imports {
		return "", "", ""
	}
	want := "NotFoundException"
	switch {
	case r == nil:
	case k.kind != rmExternal:
		want = exUnsupport
	case r.pending():
		want = exInvalid
	default:
		want = ok
	}
	if k.material == nil {
		k.material = make([]byte, 32)
		rand.Read(k.material)
	}
	in := &keyring.ImportKeyMaterialInput{KeyId: k.id}
	var validTo time.Time
	if hours > 0 {
		validTo = mc.clock.Now().Add(time.Duration(hours) * time.Hour)
		in.ValidTo = &keyring.EpochTime{Time: validTo}
	}
	err := mc.wrap(rmCtx(region), k, in)
	if err == nil {
		_, err = mc.kr.ImportKeyMaterial(rmCtx(region), in)
	}
	got := outcome(err)
	if got == ok && want == ok {
		r.validTo, r.hasMat = validTo, true
		if r.state == keyring.StatePendingImport {
			r.state = keyring.StateEnabled
		}
	}
	return keyWhat("ImportKeyMaterial", k, region, "validFor", hours, "h"), want, got
}

// wrap fetches import parameters for k and wraps its material into in.
func (mc *machine) wrap(ctx context.Context, k *rmKey, in *keyring.ImportKeyMaterialInput) error {
	p, err := mc.kr.GetParametersForImport(ctx, &keyring.GetParametersForImportInput{KeyId: k.id,
		WrappingAlgorithm: keyspec.WrapRSAESOAEPSHA256, WrappingKeySpec: keyspec.RSA2048})
	if err != nil {
		return err
	}
	pk, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		return err
	}
	in.ImportToken = p.ImportToken
	in.EncryptedKeyMaterial, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pk.(*rsa.PublicKey), k.material, nil)
	return err
}

// rmSteps of the clock: up to past the longest deletion window.
var rmAdvances = []time.Duration{time.Hour, 12 * time.Hour, 2 * day, 8 * day, 31 * day}

func (mc *machine) advanceClock() (string, string, string) {
	d := rmAdvances[mc.c.IntN(len(rmAdvances))]
	mc.clock.Advance(d)
	return "advance " + d.String(), ok, ok
}

func (mc *machine) replicate() (string, string, string) {
	k, region, r := mc.pick()
	to := rmRegions[mc.c.IntN(len(rmRegions))]
	if k == nil {
		return "", "", ""
	}
	want := "NotFoundException"
	switch {
	case r == nil:
	case !k.mrk || !r.primary:
		want = exUnsupport
	case r.pending():
		want = exInvalid
	case to == region:
		want = "ValidationException"
	case k.recs[to] != nil:
		want = "AlreadyExistsException"
	default:
		want = ok
	}
	_, err := mc.kr.ReplicateKey(rmCtx(region), &keyring.ReplicateKeyInput{KeyId: k.id, ReplicaRegion: to})
	got := outcome(err)
	if got == ok && want == ok {
		// kmsfs: a replica of a Disabled primary is Disabled, else Enabled.
		st := keyring.StateEnabled
		if r.state == keyring.StateDisabled {
			st = keyring.StateDisabled
		}
		k.recs[to] = &rmRec{state: st}
	}
	return keyWhat("ReplicateKey", k, region, "to", to), want, got
}

func (mc *machine) updatePrimary() (string, string, string) {
	k, region, r := mc.pick()
	to := rmRegions[mc.c.IntN(len(rmRegions))]
	if k == nil {
		return "", "", ""
	}
	want := "NotFoundException"
	switch t := k.recs[to]; {
	case r == nil:
	case !k.mrk || !r.primary:
		want = exUnsupport
	case to == region:
		want = ok
	case t == nil:
	case r.pending() || t.pending():
		want = exInvalid
	default:
		want = ok
	}
	err := mc.kr.UpdatePrimaryRegion(rmCtx(region), &keyring.UpdatePrimaryRegionInput{KeyId: k.id, PrimaryRegion: to})
	got := outcome(err)
	if got == ok && want == ok {
		r.primary, k.recs[to].primary = false, true
	}
	return keyWhat("UpdatePrimaryRegion", k, region, "to", to), want, got
}

// use is the key's cryptographic operation: Encrypt and Decrypt (of a
// ciphertext made earlier, if any), Sign, or GenerateMac.
func (mc *machine) use(k *rmKey, region string) error {
	ctx := rmCtx(region)
	switch k.kind {
	case rmSign:
		_, err := mc.kr.Sign(ctx, &keyring.SignInput{KeyId: k.id, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"})
		return err
	case rmHMAC:
		_, err := mc.kr.GenerateMac(ctx, &keyring.GenerateMacInput{KeyId: k.id, Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"})
		return err
	}
	if k.blob != nil {
		if _, err := mc.kr.Decrypt(ctx, &keyring.DecryptInput{CiphertextBlob: k.blob, KeyId: k.id}); err != nil {
			return err
		}
	}
	out, err := mc.kr.Encrypt(ctx, &keyring.EncryptInput{KeyId: k.id, Plaintext: []byte("p")})
	if err == nil {
		k.blob = out.CiphertextBlob
	}
	return err
}

// check compares DescribeKey and GetKeyRotationStatus of every model key
// in every region with the model.
func (mc *machine) check() error {
	for _, k := range mc.m.keys {
		for _, region := range rmRegions {
			if err := mc.checkRec(k, region, k.recs[region]); err != nil {
				return fmt.Errorf("key %s in %s: %w", k.id, region, err)
			}
		}
	}
	return nil
}

func (mc *machine) checkRec(k *rmKey, region string, r *rmRec) error {
	out, err := mc.kr.DescribeKey(rmCtx(region), &keyring.KeyIDInput{KeyId: k.id})
	if r == nil {
		if !errors.Is(err, keyring.ErrNotFound) {
			return fmt.Errorf("DescribeKey: %v, the model has no record", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("DescribeKey: %w", err)
	}
	md := out.KeyMetadata
	var errs []string
	differ := func(field string, got, want any) {
		errs = append(errs, fmt.Sprintf("%s %v, model %v", field, got, want))
	}
	if md.KeyState != r.state {
		differ("KeyState", md.KeyState, r.state)
	}
	if md.Enabled != (r.state == keyring.StateEnabled) {
		differ("Enabled", md.Enabled, !md.Enabled)
	}
	if md.KeyManager != "CUSTOMER" {
		differ("KeyManager", md.KeyManager, "CUSTOMER")
	}
	if w := map[bool]int{true: r.window}[r.pending()]; md.PendingDeletionWindowInDays != w {
		differ("PendingDeletionWindowInDays", md.PendingDeletionWindowInDays, w)
	}
	switch {
	case (md.DeletionDate == nil) != r.del.IsZero():
		differ("DeletionDate", md.DeletionDate, r.del)
	case md.DeletionDate != nil && !md.DeletionDate.Equal(r.del):
		differ("DeletionDate", md.DeletionDate.Time, r.del)
	}
	if mr, want := mrkString(md), k.mrkString(region); mr != want {
		differ("MultiRegionConfiguration", mr, want)
	}
	rs, err := mc.kr.GetKeyRotationStatus(rmCtx(region), &keyring.KeyIDInput{KeyId: k.id})
	if err != nil {
		errs = append(errs, fmt.Sprintf("GetKeyRotationStatus: %v", err))
	} else if rs.KeyRotationEnabled != k.rotation {
		differ("KeyRotationEnabled", rs.KeyRotationEnabled, k.rotation)
	}
	if errs != nil {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// mrkString renders a MultiRegionConfiguration as "TYPE primary=R
// replicas=R,R", "" for a single-Region key.
func mrkString(md keyring.KeyMetadata) string {
	c := md.MultiRegionConfiguration
	if !md.MultiRegion || c == nil {
		return ""
	}
	var p string
	if c.PrimaryKey != nil {
		p = c.PrimaryKey.Region
	}
	var reps []string
	for _, r := range c.ReplicaKeys {
		reps = append(reps, r.Region)
	}
	return fmt.Sprintf("%s primary=%s replicas=%s", c.MultiRegionKeyType, p, strings.Join(reps, ","))
}

func (k *rmKey) mrkString(region string) string {
	if !k.mrk {
		return ""
	}
	typ := keyring.MultiRegionReplica
	if k.recs[region].primary {
		typ = keyring.MultiRegionPrimary
	}
	var reps []string
	for _, r := range rmRegions {
		if rec := k.recs[r]; rec != nil && !rec.primary {
			reps = append(reps, r)
		}
	}
	slices.Sort(reps)
	return fmt.Sprintf("%s primary=%s replicas=%s", typ, k.primaryRegion(), strings.Join(reps, ","))
}

// run runs steps steps and returns the first divergence from the model.
func (mc *machine) run(steps int) error {
	ops := rmOps()
	var total int
	for _, op := range ops {
		total += op.weight
	}
	for step := range steps {
		n := mc.c.IntN(total)
		op := ops[0]
		for _, o := range ops {
			if n < o.weight {
				op = o
				break
			}
			n -= o.weight
		}
		what, want, got := op.run(mc)
		if what == "" {
			continue
		}
		mc.m.advance(mc.clock.Now())
		mc.trace = append(mc.trace, fmt.Sprintf("%3d %s %s: %s", step, mc.clock.Now().Format(time.DateTime), what, cmpOK(got)))
		if got != want {
			return fmt.Errorf("step %d %s: got %s, the model says %s", step, what, cmpOK(got), cmpOK(want))
		}
		if err := mc.check(); err != nil {
			return fmt.Errorf("after step %d %s: %w", step, what, err)
		}
	}
	return nil
}

func cmpOK(s string) string {
	if s == ok {
		return "ok"
	}
	return s
}

// seeds returns the seeds to run: the one asked for, or rmSeeds random ones.
func seeds(t *testing.T) []uint64 {
	s := *keystateSeed
	if v := os.Getenv("KMSFS_KEYSTATE_SEED"); s == 0 && v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 0, 64); err != nil {
			t.Fatalf("KMSFS_KEYSTATE_SEED: %v", err)
		}
	}
	if s != 0 {
		return []uint64{s}
	}
	out := make([]uint64, rmSeeds)
	for i := range out {
		out[i] = mrand.Uint64() | 1
	}
	return out
}

// TestKeyStateRandom runs seeded random operation sequences against the
// keyring and the model. Replay a failure with -keystate.seed=N or
// KMSFS_KEYSTATE_SEED=N.
func TestKeyStateRandom(t *testing.T) {
	for _, seed := range seeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("seed %d (replay: go test -run TestKeyStateRandom -keystate.seed=%d ./keyring/local)", seed, seed)
			clock := newFakeClock()
			mc := &machine{kr: openMachineKeyring(t, t.TempDir(), clock), clock: clock, imports: true, maxKeys: rmMaxKeys,
				c: mrand.New(mrand.NewPCG(seed, seed))}
			if err := mc.run(rmSteps); err != nil {
				t.Fatalf("seed %d: %v\ntrace:\n%s", seed, err, strings.Join(mc.trace, "\n"))
			}
		})
	}
}
