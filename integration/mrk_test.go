package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// regionClient is s.client signing for region.
func (s *kmsServer) regionClient(id, secret, region string) *kms.Client {
	return kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// TestServeMultiRegion creates a multi-Region key with a client of
// us-east-1 (which holds no keys, so it sees the server's default region),
// replicates it to eu-west-1, and decrypts with a client of eu-west-1 what
// the first one encrypted; each region lists only its own keys.
func TestServeMultiRegion(t *testing.T) {
	s := startServer(t)
	id, secret := s.accessKey("--name", "alice")
	us, eu := s.regionClient(id, secret, "us-east-1"), s.regionClient(id, secret, "eu-west-1")
	ctx := context.Background()

	plain := must[*kms.CreateKeyOutput](t, "CreateKey")(us.CreateKey(ctx, &kms.CreateKeyInput{}))
	key := must[*kms.CreateKeyOutput](t, "CreateKey MultiRegion")(us.CreateKey(ctx, &kms.CreateKeyInput{
		MultiRegion: aws.Bool(true), Description: aws.String("shared")}))
	m := key.KeyMetadata
	keyID, arn := aws.ToString(m.KeyId), aws.ToString(m.Arn)
	if !strings.HasPrefix(keyID, "mrk-") || len(keyID) != 36 || !aws.ToBool(m.MultiRegion) ||
		m.MultiRegionConfiguration == nil || m.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypePrimary {
		t.Fatalf("CreateKey MultiRegion: %+v", m)
	}
	enc := must[*kms.EncryptOutput](t, "Encrypt")(us.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID),
		Plaintext: []byte("across regions"), EncryptionContext: map[string]string{"app": "mrk"}}))

	rep := must[*kms.ReplicateKeyOutput](t, "ReplicateKey")(us.ReplicateKey(ctx, &kms.ReplicateKeyInput{
		KeyId: aws.String(keyID), ReplicaRegion: aws.String("eu-west-1"), Description: aws.String("replica"),
		Tags: []types.Tag{{TagKey: aws.String("site"), TagValue: aws.String("dublin")}}}))
	rm := rep.ReplicaKeyMetadata
	rarn := aws.ToString(rm.Arn)
	if aws.ToString(rm.KeyId) != keyID || !strings.Contains(rarn, ":eu-west-1:") || rarn == arn ||
		rm.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypeReplica ||
		aws.ToString(rm.MultiRegionConfiguration.PrimaryKey.Arn) != arn || len(rep.ReplicaTags) != 1 ||
		aws.ToString(rep.ReplicaPolicy) == "" {
		t.Fatalf("ReplicateKey: %+v %+v", rm, rm.MultiRegionConfiguration)
	}
	_, err := us.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(keyID), ReplicaRegion: aws.String("eu-west-1")})
	wantCode(t, "second ReplicateKey", err, "AlreadyExistsException")

	dec := must[*kms.DecryptOutput](t, "Decrypt in eu-west-1")(eu.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"app": "mrk"}}))
	if string(dec.Plaintext) != "across regions" || aws.ToString(dec.KeyId) != rarn {
		t.Fatalf("Decrypt in eu-west-1: %q %s", dec.Plaintext, aws.ToString(dec.KeyId))
	}

	lk := must[*kms.ListKeysOutput](t, "ListKeys eu-west-1")(eu.ListKeys(ctx, &kms.ListKeysInput{}))
	if len(lk.Keys) != 1 || aws.ToString(lk.Keys[0].KeyId) != keyID || aws.ToString(lk.Keys[0].KeyArn) != rarn {
		t.Fatalf("ListKeys eu-west-1: %+v", lk.Keys)
	}
	lk = must[*kms.ListKeysOutput](t, "ListKeys us-east-1")(us.ListKeys(ctx, &kms.ListKeysInput{}))
	if len(lk.Keys) != 2 {
		t.Fatalf("ListKeys us-east-1: %d keys, want 2", len(lk.Keys))
	}
	_, err = eu.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: plain.KeyMetadata.KeyId})
	wantCode(t, "DescribeKey of a us-east-1 key in eu-west-1", err, "NotFoundException")

	d := must[*kms.DescribeKeyOutput](t, "DescribeKey primary")(us.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)}))
	if rk := d.KeyMetadata.MultiRegionConfiguration.ReplicaKeys; len(rk) != 1 || aws.ToString(rk[0].Region) != "eu-west-1" {
		t.Fatalf("primary's ReplicaKeys: %+v", rk)
	}

	// The replica's state is its own.
	must[*kms.DisableKeyOutput](t, "DisableKey replica")(eu.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyID)}))
	must[*kms.EncryptOutput](t, "Encrypt with the primary")(us.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x")}))
	_, err = eu.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x")})
	wantCode(t, "Encrypt with the disabled replica", err, "DisabledException")
	must[*kms.EnableKeyOutput](t, "EnableKey replica")(eu.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyID)}))

	must[*kms.UpdatePrimaryRegionOutput](t, "UpdatePrimaryRegion")(us.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{
		KeyId: aws.String(keyID), PrimaryRegion: aws.String("eu-west-1")}))
	d = must[*kms.DescribeKeyOutput](t, "DescribeKey after UpdatePrimaryRegion")(eu.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)}))
	if d.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypePrimary {
		t.Fatalf("eu-west-1 is not the primary: %+v", d.KeyMetadata.MultiRegionConfiguration)
	}

	// The CLI replicates too, over the unix socket (the default region).
	var created struct{ KeyMetadata struct{ KeyId string } }
	if err := json.Unmarshal([]byte(s.run("--json", "key", "create", "--multi-region")), &created); err != nil ||
		!strings.HasPrefix(created.KeyMetadata.KeyId, "mrk-") {
		t.Fatalf("kmsfs key create --multi-region: %+v %v", created, err)
	}
	out := s.run("key", "replicate", "--region", "ap-south-1", created.KeyMetadata.KeyId)
	if !strings.Contains(out, "arn:aws:kms:ap-south-1:") {
		t.Fatalf("kmsfs key replicate: %s", out)
	}
	ap := s.regionClient(id, secret, "ap-south-1")
	lk = must[*kms.ListKeysOutput](t, "ListKeys ap-south-1")(ap.ListKeys(ctx, &kms.ListKeysInput{}))
	if len(lk.Keys) != 1 || aws.ToString(lk.Keys[0].KeyId) != created.KeyMetadata.KeyId {
		t.Fatalf("ListKeys ap-south-1: %+v", lk.Keys)
	}
}

// TestKeyTypesMultiRegionBoto3 does the same with boto3
// (testdata/kms/mrk_boto3.py).
func TestKeyTypesMultiRegionBoto3(t *testing.T) {
	needTool(t, "python3")
	s := startServer(t)
	id, secret := s.accessKey("--name", "alice")
	py := exec.Command("python3", "testdata/kms/mrk_boto3.py")
	py.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+s.endpoint, "AWS_ACCESS_KEY_ID="+id,
		"AWS_SECRET_ACCESS_KEY="+secret, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := py.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\ndone\n") {
		t.Fatalf("boto3 multi-Region: %v\n%s\nserver log:\n%s", err, out, s.stderr)
	}
}
