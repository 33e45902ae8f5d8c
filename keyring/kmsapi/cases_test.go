package kmsapi_test

import (
	"context"
	"strings"
	"time"

	"github.com/kmsfs/kmsfs/keyring"
)

// opCase is one Service method with a sample input and output.
type opCase struct {
	target string // X-Amz-Target
	name   string // the method, as the fake records it
	in     any    // *XxxInput
	out    any    // *XxxOutput; nil for operations without output
	call   func(context.Context, keyring.Service) (any, error)
}

func withOutput[In, Out any](target string, m func(keyring.Service, context.Context, *In) (*Out, error), in *In, out *Out) opCase {
	return opCase{target: target, name: target[strings.IndexByte(target, '.')+1:], in: in, out: out,
		call: func(ctx context.Context, s keyring.Service) (any, error) { return m(s, ctx, in) }}
}

func void[In any](target string, m func(keyring.Service, context.Context, *In) error, in *In) opCase {
	return opCase{target: target, name: target[strings.IndexByte(target, '.')+1:], in: in,
		call: func(ctx context.Context, s keyring.Service) (any, error) { return nil, m(s, ctx, in) }}
}

const (
	sampleKeyID  = "1234abcd-12ab-34cd-56ef-1234567890ab"
	sampleKeyARN = "arn:aws:kms:us-east-1:111122223333:key/" + sampleKeyID
)

func epoch(sec, nsec int64) keyring.EpochTime {
	return keyring.EpochTime{Time: time.Unix(sec, nsec).UTC()}
}

func sampleMetadata() keyring.KeyMetadata {
	del := epoch(1702592000, 0)
	return keyring.KeyMetadata{
		AWSAccountId: "111122223333", KeyId: sampleKeyID, Arn: sampleKeyARN,
		CreationDate: epoch(1700000000, 500_000_000), Enabled: true, Description: "fs master \"key\" ü",
		KeyUsage: "ENCRYPT_DECRYPT", KeyState: keyring.StatePendingDeletion, DeletionDate: &del,
		PendingDeletionWindowInDays: 30, Origin: "AWS_KMS", KeyManager: "CUSTOMER",
		KeySpec: "SYMMETRIC_DEFAULT", CustomerMasterKeySpec: "SYMMETRIC_DEFAULT",
		EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"}, MultiRegion: false,
		CurrentKeyVersion: 7, MinimumDecryptionVersion: 2,
	}
}

// opCases covers every Service method. Blobs have lengths 1, 2 and 0 mod 3
// so that base64 padding is exercised, and contain non-UTF-8 bytes.
func opCases() []opCase {
	ec := map[string]string{"path": "/a/b", "inode": "42", "ünï": "çödé", "": "empty key"}
	ec2 := map[string]string{"dest": "x"}
	blob1 := []byte{0, 1, 2, 0xfe, 0xff}           // 5 bytes: one '='
	blob2 := []byte{0xff, 0xfe, 0xfd, 0, 'a', 'b'} // 6 bytes: no padding
	blob3 := []byte{9, 8, 7, 6}                    // 4 bytes: "=="
	dek := make([]byte, 32)
	for i := range dek {
		dek[i] = byte(255 - i)
	}
	meta := &keyring.KeyMetadataOutput{KeyMetadata: sampleMetadata()}
	next := epoch(1731536000, 0)
	kid := &keyring.KeyIDInput{KeyId: "alias/fs-master"}
	return []opCase{
		withOutput("TrentService.Encrypt", keyring.Service.Encrypt,
			&keyring.EncryptInput{KeyId: "alias/fs-master", Plaintext: blob1, EncryptionContext: ec},
			&keyring.EncryptOutput{CiphertextBlob: blob3, KeyId: sampleKeyARN, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}),
		withOutput("TrentService.Decrypt", keyring.Service.Decrypt,
			&keyring.DecryptInput{CiphertextBlob: blob3, EncryptionContext: ec, KeyId: sampleKeyID},
			&keyring.DecryptOutput{KeyId: sampleKeyARN, Plaintext: blob1, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}),
		withOutput("TrentService.ReEncrypt", keyring.Service.ReEncrypt,
			&keyring.ReEncryptInput{CiphertextBlob: blob2, SourceEncryptionContext: ec, SourceKeyId: sampleKeyID,
				DestinationKeyId: "alias/other", DestinationEncryptionContext: ec2},
			&keyring.ReEncryptOutput{CiphertextBlob: blob3, SourceKeyId: sampleKeyARN, KeyId: "arn:other",
				SourceEncryptionAlgorithm: "SYMMETRIC_DEFAULT", DestinationEncryptionAlgorithm: "SYMMETRIC_DEFAULT"}),
		withOutput("TrentService.GenerateDataKey", keyring.Service.GenerateDataKey,
			&keyring.GenerateDataKeyInput{KeyId: sampleKeyID, EncryptionContext: ec, KeySpec: keyring.DataKeyAES256},
			&keyring.GenerateDataKeyOutput{CiphertextBlob: blob2, Plaintext: dek, KeyId: sampleKeyARN}),
		withOutput("TrentService.GenerateDataKeyWithoutPlaintext", keyring.Service.GenerateDataKeyWithoutPlaintext,
			&keyring.GenerateDataKeyInput{KeyId: sampleKeyID, NumberOfBytes: 1024},
			&keyring.GenerateDataKeyWithoutPlaintextOutput{CiphertextBlob: blob2, KeyId: sampleKeyARN}),
		withOutput("KmsfsService.WrapDEK", keyring.Service.WrapDEK,
			&keyring.WrapDEKInput{KeyId: "alias/fs-master", Plaintext: dek, AAD: blob2},
			&keyring.WrapDEKOutput{KeyId: sampleKeyID, KeyVersion: 4294967295, WrappedKey: blob1}),
		withOutput("KmsfsService.UnwrapDEK", keyring.Service.UnwrapDEK,
			&keyring.UnwrapDEKInput{KeyId: sampleKeyID, KeyVersion: 3, WrappedKey: blob1, AAD: blob2},
			&keyring.UnwrapDEKOutput{Plaintext: dek}),
		withOutput("TrentService.CreateKey", keyring.Service.CreateKey,
			&keyring.CreateKeyInput{Description: "d", KeyUsage: "ENCRYPT_DECRYPT", KeySpec: "SYMMETRIC_DEFAULT", Origin: "AWS_KMS"},
			meta),
		withOutput("TrentService.DescribeKey", keyring.Service.DescribeKey, kid, meta),
		withOutput("TrentService.ListKeys", keyring.Service.ListKeys,
			&keyring.ListInput{Limit: 2, Marker: "m1"},
			&keyring.ListKeysOutput{Keys: []keyring.KeyListEntry{{KeyId: "a", KeyArn: "arn:a"}, {KeyId: "b", KeyArn: "arn:b"}},
				NextMarker: "m2", Truncated: true}),
		void("TrentService.EnableKey", keyring.Service.EnableKey, kid),
		void("TrentService.DisableKey", keyring.Service.DisableKey, kid),
		void("TrentService.EnableKeyRotation", keyring.Service.EnableKeyRotation,
			&keyring.EnableKeyRotationInput{KeyId: sampleKeyID, RotationPeriodInDays: 90}),
		void("TrentService.DisableKeyRotation", keyring.Service.DisableKeyRotation, kid),
		withOutput("TrentService.GetKeyRotationStatus", keyring.Service.GetKeyRotationStatus, kid,
			&keyring.GetKeyRotationStatusOutput{KeyRotationEnabled: true, KeyId: sampleKeyID,
				RotationPeriodInDays: 365, NextRotationDate: &next}),
		withOutput("TrentService.RotateKeyOnDemand", keyring.Service.RotateKeyOnDemand, kid,
			&keyring.RotateKeyOnDemandOutput{KeyId: sampleKeyID, KeyVersion: 8}),
		withOutput("TrentService.ListKeyRotations", keyring.Service.ListKeyRotations,
			&keyring.ListKeyRotationsInput{KeyId: sampleKeyID, Limit: 1000, Marker: "r"},
			&keyring.ListKeyRotationsOutput{Rotations: []keyring.KeyRotation{
				{KeyId: sampleKeyID, RotationDate: epoch(1700000001, 0), RotationType: "ON_DEMAND", KeyVersion: 2},
				{KeyId: sampleKeyID, RotationDate: epoch(1700000002, 0), RotationType: "AUTOMATIC", KeyVersion: 3},
			}}),
		withOutput("TrentService.ScheduleKeyDeletion", keyring.Service.ScheduleKeyDeletion,
			&keyring.ScheduleKeyDeletionInput{KeyId: sampleKeyID, PendingWindowInDays: 7},
			&keyring.ScheduleKeyDeletionOutput{KeyId: sampleKeyARN, DeletionDate: epoch(1700604800, 0),
				KeyState: keyring.StatePendingDeletion, PendingWindowInDays: 7}),
		withOutput("TrentService.CancelKeyDeletion", keyring.Service.CancelKeyDeletion, kid,
			&keyring.CancelKeyDeletionOutput{KeyId: sampleKeyARN}),
		void("TrentService.CreateAlias", keyring.Service.CreateAlias,
			&keyring.AliasInput{AliasName: "alias/fs-master", TargetKeyId: sampleKeyID}),
		void("TrentService.UpdateAlias", keyring.Service.UpdateAlias,
			&keyring.AliasInput{AliasName: "alias/fs-master", TargetKeyId: "other"}),
		void("TrentService.DeleteAlias", keyring.Service.DeleteAlias, &keyring.AliasInput{AliasName: "alias/fs-master"}),
		withOutput("TrentService.ListAliases", keyring.Service.ListAliases,
			&keyring.ListAliasesInput{KeyId: sampleKeyID, Limit: 10, Marker: "x"},
			&keyring.ListAliasesOutput{Aliases: []keyring.AliasListEntry{{AliasName: "alias/a", AliasArn: "arn:alias/a",
				TargetKeyId: sampleKeyID, CreationDate: epoch(1600000000, 0), LastUpdatedDate: epoch(1600000001, 0)}},
				NextMarker: "y", Truncated: true}),
	}
}

// fakeWithOutputs is a fake primed with every case's output.
func fakeWithOutputs() *fakeService {
	f := newFake()
	for _, c := range opCases() {
		f.setOutput(c.name, c.out)
	}
	return f
}
