package kmsapi_test

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"

	"github.com/kmsfs/kmsfs/keyring"
)

// fakeService is an in-memory keyring.Service that records (a copy of) the
// last input of each operation and answers with (a copy of) a canned output
// (nil if none) or, when err is set, with err. It copies because the
// handler wipes inputs and outputs once it has answered, as a real service
// expects.
type fakeService struct {
	mu  sync.Mutex
	got map[string]any
	out map[string]any
	err error
}

var _ keyring.Service = (*fakeService)(nil)

func newFake() *fakeService {
	return &fakeService{got: map[string]any{}, out: map[string]any{}}
}

func (f *fakeService) setOutput(op string, out any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out[op] = out
}

func (f *fakeService) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeService) input(op string) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got[op]
}

func answer[Out any](f *fakeService, op string, in any) (*Out, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got[op] = jsonCopy(in)
	if f.err != nil {
		return nil, f.err
	}
	out, _ := jsonCopy(f.out[op]).(*Out)
	return out, nil
}

// jsonCopy returns a deep copy of *T v through its JSON encoding, the
// form in which it crosses the wire anyway; nil stays nil.
func jsonCopy(v any) any {
	rv := reflect.ValueOf(v)
	if v == nil || rv.IsNil() {
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	c := reflect.New(rv.Type().Elem())
	if err := json.Unmarshal(b, c.Interface()); err != nil {
		panic(err)
	}
	return c.Interface()
}

func answerVoid(f *fakeService, op string, in any) error {
	_, err := answer[struct{}](f, op, in)
	return err
}

func (f *fakeService) Encrypt(_ context.Context, in *keyring.EncryptInput) (*keyring.EncryptOutput, error) {
	return answer[keyring.EncryptOutput](f, "Encrypt", in)
}

func (f *fakeService) Decrypt(_ context.Context, in *keyring.DecryptInput) (*keyring.DecryptOutput, error) {
	return answer[keyring.DecryptOutput](f, "Decrypt", in)
}

func (f *fakeService) ReEncrypt(_ context.Context, in *keyring.ReEncryptInput) (*keyring.ReEncryptOutput, error) {
	return answer[keyring.ReEncryptOutput](f, "ReEncrypt", in)
}

func (f *fakeService) GenerateDataKey(_ context.Context, in *keyring.GenerateDataKeyInput) (*keyring.GenerateDataKeyOutput, error) {
	return answer[keyring.GenerateDataKeyOutput](f, "GenerateDataKey", in)
}

func (f *fakeService) GenerateDataKeyWithoutPlaintext(_ context.Context, in *keyring.GenerateDataKeyInput) (*keyring.GenerateDataKeyWithoutPlaintextOutput, error) {
	return answer[keyring.GenerateDataKeyWithoutPlaintextOutput](f, "GenerateDataKeyWithoutPlaintext", in)
}

func (f *fakeService) WrapDEK(_ context.Context, in *keyring.WrapDEKInput) (*keyring.WrapDEKOutput, error) {
	return answer[keyring.WrapDEKOutput](f, "WrapDEK", in)
}

func (f *fakeService) UnwrapDEK(_ context.Context, in *keyring.UnwrapDEKInput) (*keyring.UnwrapDEKOutput, error) {
	return answer[keyring.UnwrapDEKOutput](f, "UnwrapDEK", in)
}

func (f *fakeService) CreateKey(_ context.Context, in *keyring.CreateKeyInput) (*keyring.KeyMetadataOutput, error) {
	return answer[keyring.KeyMetadataOutput](f, "CreateKey", in)
}

func (f *fakeService) DescribeKey(_ context.Context, in *keyring.KeyIDInput) (*keyring.KeyMetadataOutput, error) {
	return answer[keyring.KeyMetadataOutput](f, "DescribeKey", in)
}

func (f *fakeService) ListKeys(_ context.Context, in *keyring.ListInput) (*keyring.ListKeysOutput, error) {
	return answer[keyring.ListKeysOutput](f, "ListKeys", in)
}

func (f *fakeService) EnableKey(_ context.Context, in *keyring.KeyIDInput) error {
	return answerVoid(f, "EnableKey", in)
}

func (f *fakeService) DisableKey(_ context.Context, in *keyring.KeyIDInput) error {
	return answerVoid(f, "DisableKey", in)
}

func (f *fakeService) EnableKeyRotation(_ context.Context, in *keyring.EnableKeyRotationInput) error {
	return answerVoid(f, "EnableKeyRotation", in)
}

func (f *fakeService) DisableKeyRotation(_ context.Context, in *keyring.KeyIDInput) error {
	return answerVoid(f, "DisableKeyRotation", in)
}

func (f *fakeService) GetKeyRotationStatus(_ context.Context, in *keyring.KeyIDInput) (*keyring.GetKeyRotationStatusOutput, error) {
	return answer[keyring.GetKeyRotationStatusOutput](f, "GetKeyRotationStatus", in)
}

func (f *fakeService) RotateKeyOnDemand(_ context.Context, in *keyring.KeyIDInput) (*keyring.RotateKeyOnDemandOutput, error) {
	return answer[keyring.RotateKeyOnDemandOutput](f, "RotateKeyOnDemand", in)
}

func (f *fakeService) ListKeyRotations(_ context.Context, in *keyring.ListKeyRotationsInput) (*keyring.ListKeyRotationsOutput, error) {
	return answer[keyring.ListKeyRotationsOutput](f, "ListKeyRotations", in)
}

func (f *fakeService) ScheduleKeyDeletion(_ context.Context, in *keyring.ScheduleKeyDeletionInput) (*keyring.ScheduleKeyDeletionOutput, error) {
	return answer[keyring.ScheduleKeyDeletionOutput](f, "ScheduleKeyDeletion", in)
}

func (f *fakeService) CancelKeyDeletion(_ context.Context, in *keyring.KeyIDInput) (*keyring.CancelKeyDeletionOutput, error) {
	return answer[keyring.CancelKeyDeletionOutput](f, "CancelKeyDeletion", in)
}

func (f *fakeService) CreateAlias(_ context.Context, in *keyring.AliasInput) error {
	return answerVoid(f, "CreateAlias", in)
}

func (f *fakeService) UpdateAlias(_ context.Context, in *keyring.AliasInput) error {
	return answerVoid(f, "UpdateAlias", in)
}

func (f *fakeService) DeleteAlias(_ context.Context, in *keyring.AliasInput) error {
	return answerVoid(f, "DeleteAlias", in)
}

func (f *fakeService) ListAliases(_ context.Context, in *keyring.ListAliasesInput) (*keyring.ListAliasesOutput, error) {
	return answer[keyring.ListAliasesOutput](f, "ListAliases", in)
}
