package local_test

import (
	"testing"

	"github.com/kmsfs/kmsfs/keyring"
)

// TestRequestAliasInReplicaRegion: a request signed for a replica's region
// that names the key by an alias ARN of that region gives the Authorizer
// the alias (kms:RequestAlias), as it does in the default region.
func TestRequestAliasInReplicaRegion(t *testing.T) {
	env := newEnv(t)
	us, eu := inRegion("us-east-1"), inRegion("eu-west-1")
	c, err := env.kr.CreateKey(us, &keyring.CreateKeyInput{MultiRegion: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.kr.ReplicateKey(us, &keyring.ReplicateKeyInput{KeyId: c.KeyMetadata.KeyId, ReplicaRegion: "eu-west-1"}); err != nil {
		t.Fatal(err)
	}
	if err := env.kr.CreateAlias(eu, &keyring.AliasInput{AliasName: "alias/eu", TargetKeyId: c.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	a := &fakeAuthorizer{}
	env.kr.SetAuthorizer(a)
	arn := "arn:aws:kms:eu-west-1:" + env.kr.Account() + ":alias/eu"
	if _, err := env.kr.Encrypt(eu, &keyring.EncryptInput{KeyId: arn, Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if len(a.asked) != 1 || a.asked[0].RequestAlias != "alias/eu" {
		t.Fatalf("asked %+v, want one request with RequestAlias alias/eu", a.asked)
	}
}
