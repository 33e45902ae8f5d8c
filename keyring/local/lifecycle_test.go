package local_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/local"
)

const day = 24 * time.Hour

// putInState moves a fresh Enabled key into state.
func (env *testEnv) putInState(id, state string) {
	env.t.Helper()
	var err error
	switch state {
	case keyring.StateDisabled:
		err = env.kr.DisableKey(ctxb(), &keyring.KeyIDInput{KeyId: id})
	case keyring.StatePendingDeletion:
		_, err = env.kr.ScheduleKeyDeletion(ctxb(), &keyring.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: 7})
	}
	if err != nil {
		env.t.Fatalf("putInState(%s): %v", state, err)
	}
	if got := env.describe(id).KeyState; got != state {
		env.t.Fatalf("state %s, want %s", got, state)
	}
}

func TestLifecycleTransitions(t *testing.T) {
	type op func(kr *local.Keyring, id string) error
	enable := func(kr *local.Keyring, id string) error {
		return kr.EnableKey(ctxb(), &keyring.KeyIDInput{KeyId: id})
	}
	disable := func(kr *local.Keyring, id string) error {
		return kr.DisableKey(ctxb(), &keyring.KeyIDInput{KeyId: id})
	}
	schedule := func(kr *local.Keyring, id string) error {
		_, err := kr.ScheduleKeyDeletion(ctxb(), &keyring.ScheduleKeyDeletionInput{KeyId: id})
		return err
	}
	cancel := func(kr *local.Keyring, id string) error {
		_, err := kr.CancelKeyDeletion(ctxb(), &keyring.KeyIDInput{KeyId: id})
		return err
	}
	enableRot := func(kr *local.Keyring, id string) error {
		return kr.EnableKeyRotation(ctxb(), &keyring.EnableKeyRotationInput{KeyId: id})
	}
	disableRot := func(kr *local.Keyring, id string) error {
		return kr.DisableKeyRotation(ctxb(), &keyring.KeyIDInput{KeyId: id})
	}
	rotate := func(kr *local.Keyring, id string) error {
		_, err := kr.RotateKeyOnDemand(ctxb(), &keyring.KeyIDInput{KeyId: id})
		return err
	}
	tests := []struct {
		name      string
		from      string
		op        op
		wantErr   error
		wantState string
	}{
		{"enable enabled", keyring.StateEnabled, enable, nil, keyring.StateEnabled},
		{"enable disabled", keyring.StateDisabled, enable, nil, keyring.StateEnabled},
		{"enable pending", keyring.StatePendingDeletion, enable, keyring.ErrInvalidState, keyring.StatePendingDeletion},
		{"disable enabled", keyring.StateEnabled, disable, nil, keyring.StateDisabled},
		{"disable disabled", keyring.StateDisabled, disable, nil, keyring.StateDisabled},
		{"disable pending", keyring.StatePendingDeletion, disable, keyring.ErrInvalidState, keyring.StatePendingDeletion},
		{"schedule enabled", keyring.StateEnabled, schedule, nil, keyring.StatePendingDeletion},
		{"schedule disabled", keyring.StateDisabled, schedule, nil, keyring.StatePendingDeletion},
		{"schedule twice", keyring.StatePendingDeletion, schedule, keyring.ErrInvalidState, keyring.StatePendingDeletion},
		{"cancel pending", keyring.StatePendingDeletion, cancel, nil, keyring.StateDisabled},
		{"cancel enabled", keyring.StateEnabled, cancel, keyring.ErrInvalidState, keyring.StateEnabled},
		{"cancel disabled", keyring.StateDisabled, cancel, keyring.ErrInvalidState, keyring.StateDisabled},
		{"rotation on enabled", keyring.StateEnabled, enableRot, nil, keyring.StateEnabled},
		{"rotation on disabled", keyring.StateDisabled, enableRot, keyring.ErrDisabled, keyring.StateDisabled},
		{"rotation on pending", keyring.StatePendingDeletion, enableRot, keyring.ErrInvalidState, keyring.StatePendingDeletion},
		{"no rotation on disabled", keyring.StateDisabled, disableRot, keyring.ErrDisabled, keyring.StateDisabled},
		{"no rotation on pending", keyring.StatePendingDeletion, disableRot, keyring.ErrInvalidState, keyring.StatePendingDeletion},
		{"rotate enabled", keyring.StateEnabled, rotate, nil, keyring.StateEnabled},
		{"rotate disabled", keyring.StateDisabled, rotate, keyring.ErrDisabled, keyring.StateDisabled},
		{"rotate pending", keyring.StatePendingDeletion, rotate, keyring.ErrInvalidState, keyring.StatePendingDeletion},
	}
	env := newEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := env.createKey()
			env.putInState(id, tc.from)
			wantErr(t, tc.name, tc.op(env.kr, id), tc.wantErr)
			if got := env.describe(id).KeyState; got != tc.wantState {
				t.Fatalf("state %s, want %s", got, tc.wantState)
			}
		})
	}
	_, err := env.kr.ScheduleKeyDeletion(ctxb(), &keyring.ScheduleKeyDeletionInput{KeyId: "no-such-key"})
	wantErr(t, "unknown key", err, keyring.ErrNotFound)
}

func TestScheduleKeyDeletionWindow(t *testing.T) {
	env := newEnv(t)
	for _, days := range []int{-1, 1, 6, 31, 365} {
		_, err := env.kr.ScheduleKeyDeletion(ctxb(), &keyring.ScheduleKeyDeletionInput{KeyId: env.createKey(), PendingWindowInDays: days})
		wantErr(t, "window", err, keyring.ErrValidation)
	}
	for _, tc := range []struct{ in, want int }{{0, 30}, {7, 7}, {30, 30}} {
		id := env.createKey()
		out, err := env.kr.ScheduleKeyDeletion(ctxb(), &keyring.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: tc.in})
		if err != nil {
			t.Fatal(err)
		}
		wantDate := env.clock.Now().Add(time.Duration(tc.want) * day)
		md := env.describe(id)
		switch {
		case out.PendingWindowInDays != tc.want || !out.DeletionDate.Equal(wantDate) || out.KeyState != keyring.StatePendingDeletion:
			t.Errorf("window %d: output %+v", tc.in, out)
		case md.DeletionDate == nil || !md.DeletionDate.Equal(wantDate) || md.PendingDeletionWindowInDays != tc.want || md.Enabled:
			t.Errorf("window %d: metadata %+v", tc.in, md)
		case out.KeyId != md.Arn:
			t.Errorf("KeyId %q, want the ARN", out.KeyId)
		}
	}
}

func TestDeletionAfterDate(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	keep := env.createKey()
	blob := env.encrypt(id, []byte("x"), nil)
	if err := env.kr.CreateAlias(ctxb(), &keyring.AliasInput{AliasName: "alias/doomed", TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	env.putInState(id, keyring.StatePendingDeletion) // 7 days
	env.clock.Advance(7*day - time.Second)
	if md := env.describe(id); md.KeyState != keyring.StatePendingDeletion {
		t.Fatalf("deleted early: %+v", md)
	}
	env.clock.Advance(time.Second)
	_, err := env.kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: id})
	wantErr(t, "DescribeKey after deletion date", err, keyring.ErrNotFound)
	_, err = env.kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: "alias/doomed"})
	wantErr(t, "alias of deleted key", err, keyring.ErrNotFound)
	_, err = env.decrypt(blob, nil)
	wantErr(t, "Decrypt under deleted key", err, keyring.ErrInvalidCiphertext)
	env.reopen()
	_, err = env.kr.DescribeKey(ctxb(), &keyring.KeyIDInput{KeyId: id})
	wantErr(t, "DescribeKey after reopen", err, keyring.ErrNotFound)
	env.describe(keep)
}

func TestDeletionOnOpen(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	env.putInState(id, keyring.StatePendingDeletion)
	env.clock.Advance(8 * day)
	env.reopen()
	out, err := env.kr.ListKeys(ctxb(), &keyring.ListInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Keys) != 0 {
		t.Fatalf("ListKeys after the deletion date: %+v", out.Keys)
	}
}

func TestCancelKeyDeletionKeepsKey(t *testing.T) {
	env := newEnv(t)
	id := env.createKey()
	blob := env.encrypt(id, []byte("x"), nil)
	env.putInState(id, keyring.StatePendingDeletion)
	if _, err := env.kr.CancelKeyDeletion(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(60 * day)
	md := env.describe(id)
	if md.KeyState != keyring.StateDisabled || md.DeletionDate != nil {
		t.Fatalf("after cancel: %+v", md)
	}
	if err := env.kr.EnableKey(ctxb(), &keyring.KeyIDInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	if pt, err := env.decrypt(blob, nil); err != nil || !bytes.Equal(pt, []byte("x")) {
		t.Fatalf("Decrypt after cancel: %q %v", pt, err)
	}
}

// TestStateRefusesCrypto checks every cryptographic operation against a
// Disabled and a PendingDeletion key, including the key named inside a
// blob on Decrypt and ReEncrypt.
func TestStateRefusesCrypto(t *testing.T) {
	type cryptoOp func(env *testEnv, id string, blob []byte, wrapped *keyring.WrapDEKOutput, other string) error
	ops := map[string]cryptoOp{
		"Encrypt": func(env *testEnv, id string, _ []byte, _ *keyring.WrapDEKOutput, _ string) error {
			_, err := env.kr.Encrypt(ctxb(), &keyring.EncryptInput{KeyId: id, Plaintext: []byte("x")})
			return err
		},
		"Decrypt": func(env *testEnv, _ string, blob []byte, _ *keyring.WrapDEKOutput, _ string) error {
			_, err := env.decrypt(blob, nil)
			return err
		},
		"ReEncrypt from": func(env *testEnv, _ string, blob []byte, _ *keyring.WrapDEKOutput, other string) error {
			_, err := env.kr.ReEncrypt(ctxb(), &keyring.ReEncryptInput{CiphertextBlob: blob, DestinationKeyId: other})
			return err
		},
		"ReEncrypt to": func(env *testEnv, id string, _ []byte, _ *keyring.WrapDEKOutput, other string) error {
			blob := env.encrypt(other, []byte("y"), nil)
			_, err := env.kr.ReEncrypt(ctxb(), &keyring.ReEncryptInput{CiphertextBlob: blob, DestinationKeyId: id})
			return err
		},
		"GenerateDataKey": func(env *testEnv, id string, _ []byte, _ *keyring.WrapDEKOutput, _ string) error {
			_, err := env.kr.GenerateDataKey(ctxb(), &keyring.GenerateDataKeyInput{KeyId: id, KeySpec: keyring.DataKeyAES256})
			return err
		},
		"GenerateDataKeyWithoutPlaintext": func(env *testEnv, id string, _ []byte, _ *keyring.WrapDEKOutput, _ string) error {
			_, err := env.kr.GenerateDataKeyWithoutPlaintext(ctxb(), &keyring.GenerateDataKeyInput{KeyId: id, NumberOfBytes: 8})
			return err
		},
		"WrapDEK": func(env *testEnv, id string, _ []byte, _ *keyring.WrapDEKOutput, _ string) error {
			_, err := env.kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: id, Plaintext: make([]byte, 32)})
			return err
		},
		"UnwrapDEK": func(env *testEnv, _ string, _ []byte, w *keyring.WrapDEKOutput, _ string) error {
			_, err := env.kr.UnwrapDEK(ctxb(), &keyring.UnwrapDEKInput{KeyId: w.KeyId, KeyVersion: w.KeyVersion, WrappedKey: w.WrappedKey, AAD: []byte("aad")})
			return err
		},
	}
	states := map[string]error{keyring.StateDisabled: keyring.ErrDisabled, keyring.StatePendingDeletion: keyring.ErrInvalidState}
	env := newEnv(t)
	other := env.createKey()
	for state, want := range states {
		for name, op := range ops {
			t.Run(state+"/"+name, func(t *testing.T) {
				id := env.createKey()
				blob := env.encrypt(id, []byte("x"), nil)
				w, err := env.kr.WrapDEK(ctxb(), &keyring.WrapDEKInput{KeyId: id, Plaintext: make([]byte, 32), AAD: []byte("aad")})
				if err != nil {
					t.Fatal(err)
				}
				if err := op(env, id, blob, w, other); err != nil {
					t.Fatalf("while Enabled: %v", err)
				}
				env.putInState(id, state)
				wantErr(t, name, op(env, id, blob, w, other), want)
			})
		}
	}
}
