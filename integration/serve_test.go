package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/kmsfs/kmsfs/internal/testutil"
)

// kmsServer is a `kmsfs serve` process on a loopback port.
type kmsServer struct {
	t        *testing.T
	dir      string // keyring
	passfile string
	endpoint string // http://127.0.0.1:PORT
	listen   string // --listen; 127.0.0.1:0 unless set
	cmd      *exec.Cmd
	stderr   *testutil.SyncBuffer
}

// startServer creates a keyring and serves it with `kmsfs serve`; the
// server is stopped with SIGTERM at cleanup.
func startServer(t *testing.T, extra ...string) *kmsServer {
	t.Helper()
	base := t.TempDir()
	s := &kmsServer{t: t, dir: filepath.Join(base, "keyring"), passfile: filepath.Join(base, "pass")}
	if err := os.WriteFile(s.passfile, []byte("server passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s.start(extra...) // serve creates the keyring when there is none
}

func (s *kmsServer) start(extra ...string) *kmsServer {
	t := s.t
	t.Helper()
	if s.listen == "" {
		s.listen = "127.0.0.1:0"
	}
	args := append([]string{"--keyring", s.dir, "--passfile", s.passfile, "serve", "--listen", s.listen,
		"--account-id", "111122223333"}, extra...)
	s.cmd = exec.Command(kmsfsBin, args...)
	s.stderr = &testutil.SyncBuffer{}
	s.cmd.Stderr = s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		l, _ := r.ReadString('\n')
		line <- l
		io.Copy(io.Discard, r)
	}()
	select {
	case l := <-line:
		_, url, ok := strings.Cut(strings.TrimSpace(l), "serving the keyring on ")
		if !ok {
			t.Fatalf("kmsfs serve printed %q; stderr: %s", l, s.stderr)
		}
		s.endpoint = url
	case <-time.After(30 * time.Second):
		t.Fatalf("kmsfs serve did not start; stderr: %s", s.stderr)
	}
	return s
}

// stop ends the server with SIGTERM and checks it exits cleanly.
func (s *kmsServer) stop() {
	if s.cmd == nil || s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("kmsfs serve exited with %v; stderr: %s", err, s.stderr)
		}
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("kmsfs serve ignored SIGTERM")
	}
}

// run runs a kmsfs command against the server's keyring (through its
// socket while it serves).
func (s *kmsServer) run(args ...string) string {
	s.t.Helper()
	full := append([]string{"--keyring", s.dir, "--passfile", s.passfile}, args...)
	cmd := exec.Command(kmsfsBin, full...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("kmsfs %s: %v: %s%s", strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String()
}

// accessKey makes an access key and returns its ID and secret.
func (s *kmsServer) accessKey(args ...string) (id, secret string) {
	s.t.Helper()
	out := s.run(append([]string{"access-key", "create", "--json"}, args...)...)
	var resp struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.AccessKey.SecretAccessKey == "" {
		s.t.Fatalf("access-key create --json printed %q: %v", out, err)
	}
	return resp.AccessKey.AccessKeyId, resp.AccessKey.SecretAccessKey
}

// client returns an AWS SDK KMS client for the server, signing with the
// given access key.
func (s *kmsServer) client(id, secret string) *kms.Client {
	return kms.New(kms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// apiCode returns the AWS error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := apiCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want %s", what, err, got, code)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// TestServeWithGoSDK drives `kmsfs serve` with the AWS SDK for Go through
// the operations of the AWS KMS getting-started guides.
func TestServeWithGoSDK(t *testing.T) {
	s := startServer(t)
	id, secret := s.accessKey("--name", "alice")
	c := s.client(id, secret)
	ctx := context.Background()

	key := must[*kms.CreateKeyOutput](t, "CreateKey")(c.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("integration"),
		Tags:        []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("storage")}},
	}))
	keyID := aws.ToString(key.KeyMetadata.KeyId)
	if got := aws.ToString(key.KeyMetadata.Arn); got != "arn:aws:kms:local:111122223333:key/"+keyID {
		t.Errorf("key ARN %q does not carry the account", got)
	}
	must[*kms.CreateAliasOutput](t, "CreateAlias")(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/it"), TargetKeyId: &keyID}))
	desc := must[*kms.DescribeKeyOutput](t, "DescribeKey")(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/it")}))
	if aws.ToString(desc.KeyMetadata.KeyId) != keyID || desc.KeyMetadata.KeyState != types.KeyStateEnabled {
		t.Errorf("DescribeKey: %+v", desc.KeyMetadata)
	}

	ec := map[string]string{"purpose": "test"}
	enc := must[*kms.EncryptOutput](t, "Encrypt")(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/it"), Plaintext: []byte("secret"), EncryptionContext: ec}))
	dec := must[*kms.DecryptOutput](t, "Decrypt")(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))
	if string(dec.Plaintext) != "secret" {
		t.Errorf("Decrypt = %q", dec.Plaintext)
	}
	_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, "Decrypt without the context", err, "InvalidCiphertextException")

	dk := must[*kms.GenerateDataKeyOutput](t, "GenerateDataKey")(c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &keyID, KeySpec: types.DataKeySpecAes256}))
	back := must[*kms.DecryptOutput](t, "Decrypt data key")(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob}))
	if !bytes.Equal(back.Plaintext, dk.Plaintext) || len(dk.Plaintext) != 32 {
		t.Error("data key does not decrypt to its plaintext")
	}

	other := must[*kms.CreateKeyOutput](t, "CreateKey 2")(c.CreateKey(ctx, &kms.CreateKeyInput{}))
	re := must[*kms.ReEncryptOutput](t, "ReEncrypt")(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob,
		SourceEncryptionContext: ec, DestinationKeyId: other.KeyMetadata.KeyId}))
	dec2 := must[*kms.DecryptOutput](t, "Decrypt re-encrypted")(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob}))
	if string(dec2.Plaintext) != "secret" || aws.ToString(dec2.KeyId) != aws.ToString(other.KeyMetadata.Arn) {
		t.Errorf("ReEncrypt round trip: %q under %s", dec2.Plaintext, aws.ToString(dec2.KeyId))
	}

	// Listing and paging.
	page := must[*kms.ListKeysOutput](t, "ListKeys")(c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(1)}))
	if !page.Truncated || page.NextMarker == nil || len(page.Keys) != 1 {
		t.Errorf("ListKeys Limit 1: truncated=%v marker=%v keys=%d", page.Truncated, page.NextMarker, len(page.Keys))
	}
	n := 0
	for p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{Limit: aws.Int32(1)}); p.HasMorePages(); {
		n += len(must[*kms.ListKeysOutput](t, "ListKeys page")(p.NextPage(ctx)).Keys)
	}
	if n < 2 {
		t.Errorf("paging ListKeys found %d keys", n)
	}

	// Rotation.
	must[*kms.EnableKeyRotationOutput](t, "EnableKeyRotation")(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &keyID}))
	st := must[*kms.GetKeyRotationStatusOutput](t, "GetKeyRotationStatus")(c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: &keyID}))
	if !st.KeyRotationEnabled {
		t.Error("rotation not enabled")
	}
	must[*kms.RotateKeyOnDemandOutput](t, "RotateKeyOnDemand")(c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: &keyID}))
	rots := must[*kms.ListKeyRotationsOutput](t, "ListKeyRotations")(c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: &keyID}))
	if len(rots.Rotations) != 1 || rots.Rotations[0].RotationType != types.RotationTypeOnDemand {
		t.Errorf("ListKeyRotations: %+v", rots.Rotations)
	}
	dec3 := must[*kms.DecryptOutput](t, "Decrypt after rotation")(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))
	if string(dec3.Plaintext) != "secret" {
		t.Error("old ciphertext does not decrypt after rotation")
	}

	// Tags and description.
	tags := must[*kms.ListResourceTagsOutput](t, "ListResourceTags")(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: &keyID}))
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].TagKey) != "team" {
		t.Errorf("tags from CreateKey: %+v", tags.Tags)
	}
	must[*kms.TagResourceOutput](t, "TagResource")(c.TagResource(ctx, &kms.TagResourceInput{KeyId: &keyID, Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("ci")}}}))
	must[*kms.UntagResourceOutput](t, "UntagResource")(c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: &keyID, TagKeys: []string{"team"}}))
	tags = must[*kms.ListResourceTagsOutput](t, "ListResourceTags 2")(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: &keyID}))
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].TagKey) != "env" {
		t.Errorf("tags after tag/untag: %+v", tags.Tags)
	}
	_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: &keyID, Tags: []types.Tag{{TagKey: aws.String("aws:reserved"), TagValue: aws.String("x")}}})
	wantCode(t, "TagResource with an aws: key", err, "TagException")
	must[*kms.UpdateKeyDescriptionOutput](t, "UpdateKeyDescription")(c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: &keyID, Description: aws.String("renamed")}))
	desc = must[*kms.DescribeKeyOutput](t, "DescribeKey 2")(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &keyID}))
	if aws.ToString(desc.KeyMetadata.Description) != "renamed" {
		t.Errorf("description %q", aws.ToString(desc.KeyMetadata.Description))
	}

	// The default key policy.
	pol := must[*kms.GetKeyPolicyOutput](t, "GetKeyPolicy")(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: &keyID}))
	if !strings.Contains(aws.ToString(pol.Policy), "arn:aws:iam::111122223333:root") {
		t.Errorf("default policy: %s", aws.ToString(pol.Policy))
	}
	names := must[*kms.ListKeyPoliciesOutput](t, "ListKeyPolicies")(c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: &keyID}))
	if len(names.PolicyNames) != 1 || names.PolicyNames[0] != "default" {
		t.Errorf("ListKeyPolicies: %v", names.PolicyNames)
	}

	// Last usage, from the audit log (records reach it within a second).
	var last *kms.GetKeyLastUsageOutput
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		last = must[*kms.GetKeyLastUsageOutput](t, "GetKeyLastUsage")(c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: &keyID}))
		if last.KeyLastUsage != nil && last.KeyLastUsage.Operation == types.KeyLastUsageTrackingOperationDecrypt {
			break
		}
	}
	if last.KeyLastUsage == nil || last.KeyLastUsage.Operation != types.KeyLastUsageTrackingOperationDecrypt || last.KeyCreationDate == nil {
		t.Errorf("GetKeyLastUsage after Decrypt: %+v", last)
	}

	// Grants: made, listed, listed as retirable, retired by token.
	alice := "arn:aws:iam::111122223333:user/alice"
	g := must[*kms.CreateGrantOutput](t, "CreateGrant")(c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &keyID,
		GranteePrincipal: aws.String("arn:aws:iam::111122223333:role/App"), RetiringPrincipal: &alice,
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}}))
	lg := must[*kms.ListGrantsOutput](t, "ListGrants")(c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: &keyID}))
	if len(lg.Grants) != 1 || aws.ToString(lg.Grants[0].GrantId) != aws.ToString(g.GrantId) {
		t.Errorf("ListGrants: %+v", lg.Grants)
	}
	rg := must[*kms.ListRetirableGrantsOutput](t, "ListRetirableGrants")(c.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: &alice}))
	if len(rg.Grants) != 1 {
		t.Errorf("ListRetirableGrants: %+v", rg.Grants)
	}
	must[*kms.RetireGrantOutput](t, "RetireGrant")(c.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken}))
	lg = must[*kms.ListGrantsOutput](t, "ListGrants after retiring")(c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: &keyID}))
	if len(lg.Grants) != 0 {
		t.Errorf("a retired grant is still listed: %+v", lg.Grants)
	}
	_, err = c.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: aws.String("not-a-token")})
	wantCode(t, "RetireGrant with a malformed token", err, "InvalidGrantTokenException")

	// States.
	must[*kms.DisableKeyOutput](t, "DisableKey")(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &keyID}))
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyID, Plaintext: []byte("x")})
	wantCode(t, "Encrypt under a disabled key", err, "DisabledException")
	must[*kms.EnableKeyOutput](t, "EnableKey")(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: &keyID}))
	del := must[*kms.ScheduleKeyDeletionOutput](t, "ScheduleKeyDeletion")(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &keyID, PendingWindowInDays: aws.Int32(7)}))
	if del.KeyState != types.KeyStatePendingDeletion {
		t.Errorf("ScheduleKeyDeletion state %s", del.KeyState)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyID, Plaintext: []byte("x")})
	wantCode(t, "Encrypt under a key pending deletion", err, "KMSInvalidStateException")
	must[*kms.CancelKeyDeletionOutput](t, "CancelKeyDeletion")(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: &keyID}))
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/none")})
	wantCode(t, "DescribeKey of an unknown alias", err, "NotFoundException")

	// The server's own answers.
	resp, err := http.Get(s.endpoint + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
}

// TestServeTutorials runs the AWS KMS tutorials' steps with boto3 and the
// AWS CLI against `kmsfs serve`, then uses the grant and policy statement
// the boto3 script made as the principal they name.
func TestServeTutorials(t *testing.T) {
	needTool(t, "python3")
	needTool(t, "aws")
	s := startServer(t)
	aliceID, aliceSecret := s.accessKey("--name", "alice")
	bobID, bobSecret := s.accessKey("--name", "bob")
	bobARN := "arn:aws:iam::111122223333:user/bob"
	env := append(os.Environ(), "AWS_ENDPOINT_URL="+s.endpoint, "AWS_ACCESS_KEY_ID="+aliceID,
		"AWS_SECRET_ACCESS_KEY="+aliceSecret, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")

	py := exec.Command("python3", "testdata/kms/tutorial_boto3.py", "arn:aws:iam::111122223333:user/alice", bobARN)
	py.Env = env
	out, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3 tutorial: %v\n%s\nserver log:\n%s", err, out, s.stderr)
	}
	var grant struct{ KeyId, GrantId, GrantToken, Blob string }
	for _, l := range strings.Split(string(out), "\n") {
		if j, ok := strings.CutPrefix(l, "grant: "); ok {
			if err := json.Unmarshal([]byte(j), &grant); err != nil {
				t.Fatal(err)
			}
		}
	}
	if grant.GrantId == "" {
		t.Fatalf("the boto3 tutorial printed no grant:\n%s", out)
	}

	// Bob may do what the policy statement and the grant allow, and no more.
	ctx := context.Background()
	bob := s.client(bobID, bobSecret)
	blob := mustHex(t, grant.Blob)
	ec := map[string]string{"Department": "10"}
	if _, err := bob.Encrypt(ctx, &kms.EncryptInput{KeyId: &grant.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Errorf("bob Encrypt (allowed by the policy statement): %v", err)
	}
	if _, err := bob.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec}); err != nil {
		t.Errorf("bob Decrypt (allowed by the grant): %v", err)
	}
	_, err = bob.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &grant.KeyId, KeySpec: types.DataKeySpecAes256})
	wantCode(t, "bob GenerateDataKey outside the grant's context constraint", err, "AccessDeniedException")
	_, err = bob.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &grant.KeyId})
	wantCode(t, "bob DisableKey", err, "AccessDeniedException")
	alice := s.client(aliceID, aliceSecret)
	must[*kms.RevokeGrantOutput](t, "RevokeGrant")(alice.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: &grant.KeyId, GrantId: &grant.GrantId}))
	_, err = bob.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
	wantCode(t, "bob Decrypt after the grant was revoked", err, "AccessDeniedException")

	cli := exec.Command("bash", "testdata/kms/tutorial_awscli.sh")
	cli.Env = env
	if out, err := cli.CombinedOutput(); err != nil {
		t.Fatalf("AWS CLI tutorial: %v\n%s", err, out)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServeRefusesBadSignatures: every SigV4 refusal AWS makes, each with
// AWS's exception, and each audited.
func TestServeRefusesBadSignatures(t *testing.T) {
	s := startServer(t)
	id, secret := s.accessKey("--name", "carol")
	offID, offSecret := s.accessKey("--name", "dave")
	s.run("access-key", "disable", offID)
	s.run("key", "create", "--alias", "alias/kmsfs")
	body := `{"KeyId":"alias/kmsfs","Plaintext":"aGVsbG8="}`
	now := time.Now()
	// A secret that differs from the real one in its first character
	// (replacing it with a fixed "x" failed the test whenever the real
	// secret began with x).
	wrong := "x" + secret[1:]
	if secret[0] == 'x' {
		wrong = "y" + secret[1:]
	}
	for _, tc := range []struct {
		name     string
		id, key  string
		signedAt time.Time
		service  string
		tamper   func(r *http.Request)
		noAuth   bool
		wantCode string
		wantHTTP int
	}{
		{name: "valid", id: id, key: secret, wantCode: "", wantHTTP: 200},
		{name: "no signature", noAuth: true, wantCode: "MissingAuthenticationTokenException", wantHTTP: 400},
		{name: "unknown access key", id: "AKIAUNKNOWNUNKNOWN00", key: secret, wantCode: "UnrecognizedClientException", wantHTTP: 400},
		{name: "disabled access key", id: offID, key: offSecret, wantCode: "UnrecognizedClientException", wantHTTP: 400},
		{name: "wrong secret", id: id, key: wrong, wantCode: "InvalidSignatureException", wantHTTP: 400},
		{name: "wrong service", id: id, key: secret, service: "s3", wantCode: "InvalidSignatureException", wantHTTP: 400},
		{name: "clock 20 minutes behind", id: id, key: secret, signedAt: now.Add(-20 * time.Minute), wantCode: "InvalidSignatureException", wantHTTP: 400},
		{name: "clock 20 minutes ahead", id: id, key: secret, signedAt: now.Add(20 * time.Minute), wantCode: "InvalidSignatureException", wantHTTP: 400},
		{name: "tampered body", id: id, key: secret, tamper: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "aGVsbG8=", "aGVsbG9=", 1)))
		}, wantCode: "InvalidSignatureException", wantHTTP: 400},
		{name: "tampered signed header", id: id, key: secret, tamper: func(r *http.Request) {
			r.Header.Set("X-Amz-Target", "TrentService.Decrypt")
		}, wantCode: "InvalidSignatureException", wantHTTP: 400},
		{name: "malformed authorization", id: id, key: secret, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=garbage")
		}, wantCode: "IncompleteSignatureException", wantHTTP: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := signedRequest(t, s.endpoint, body, tc.id, tc.key, tc.service, tc.signedAt, tc.noAuth)
			if tc.tamper != nil {
				tc.tamper(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct {
				Type string `json:"__type"`
			}
			json.Unmarshal(b, &e)
			if resp.StatusCode != tc.wantHTTP || e.Type != tc.wantCode {
				t.Errorf("got %d %s, want %d %s (%s)", resp.StatusCode, e.Type, tc.wantHTTP, tc.wantCode, b)
			}
			if strings.Contains(string(b), secret) {
				t.Error("the refusal quotes the secret")
			}
		})
	}
	// Refusals are audited in the background batch (at least once a
	// second): wait for it.
	codes := []string{"MissingAuthenticationTokenException", "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException"}
	var audit string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if audit = s.run("audit", "--op", "Encrypt"); strings.Contains(audit, codes[len(codes)-1]) {
			break
		}
	}
	for _, code := range codes {
		if !strings.Contains(audit, code) {
			t.Errorf("no audit record with outcome %s:\n%s", code, audit)
		}
	}
}

// signedRequest builds an Encrypt request signed with aws-sdk-go-v2's
// SigV4 signer as the SDK would, with the clock and service given.
func signedRequest(t *testing.T, endpoint, body, id, secret, service string, at time.Time, noAuth bool) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", endpoint+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "TrentService.Encrypt")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if noAuth {
		return req
	}
	if service == "" {
		service = "kms"
	}
	if at.IsZero() {
		at = time.Now()
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestServeTLSMetricsAndMounts: HTTPS with the given certificate, metrics
// on their own address, plain HTTP refused beyond loopback, and a mount
// started while the server runs reaches the keyring through it.
func TestServeTLSMetricsAndMounts(t *testing.T) {
	base := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, base)
	s := startServer(t, "--tls-cert", certFile, "--tls-key", keyFile, "--metrics", "127.0.0.1:0")
	if !strings.HasPrefix(s.endpoint, "https://") {
		t.Fatalf("endpoint %s is not HTTPS", s.endpoint)
	}
	id, secret := s.accessKey("--name", "tls")
	c := kms.New(kms.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.endpoint), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	})
	if _, err := c.ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
		t.Fatalf("ListKeys over HTTPS: %v", err)
	}
	if !strings.Contains(s.stderr.String(), "serving metrics") {
		t.Errorf("no metrics address logged: %s", s.stderr)
	}

	// A mount started while the server runs uses the server's keyring.
	v := &vol{t: t, base: base, keyring: s.dir, passfile: s.passfile,
		cipher: filepath.Join(base, "cipher"), plain: filepath.Join(base, "plain"), log: filepath.Join(base, "mount.log")}
	if err := os.Mkdir(v.plain, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.RequireFUSE(t)
	v.must("init", "--plaintext-names", v.cipher)
	v.mount()
	if err := os.WriteFile(filepath.Join(v.plain, "f"), []byte("through the server"), 0o644); err != nil {
		t.Fatal(err)
	}
	umountBeside(v)
	v.mount()
	if b, err := os.ReadFile(filepath.Join(v.plain, "f")); err != nil || string(b) != "through the server" {
		t.Fatalf("read back %q, %v", b, err)
	}
	umountBeside(v)
	if _, err := c.ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
		t.Errorf("the server stopped serving when a mount that used it ended: %v", err)
	}

	// Plain HTTP on a wildcard address is refused without --insecure-http.
	cmd := exec.Command(kmsfsBin, "--keyring", filepath.Join(base, "other-keyring"), "--passfile", s.passfile,
		"serve", "--listen", "0.0.0.0:0")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(string(out), "plain HTTP") {
		t.Errorf("serve on 0.0.0.0 without TLS: %v: %s", err, out)
	}
}

// umountBeside unmounts a volume whose keyring another process (the
// server) holds, and waits for the mount to go.
func umountBeside(v *vol) {
	v.t.Helper()
	v.must("umount", v.plain)
	for deadline := time.Now().Add(10 * time.Second); v.mounted(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			v.t.Fatal("still mounted 10 s after umount")
		}
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kmsfs test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeRefusesAMountedKeyring: a server must hold the keyring itself
// to check policies, so it says how to proceed instead of starting beside
// a mount that holds it.
func TestServeRefusesAMountedKeyring(t *testing.T) {
	v := newVol(t)
	v.mount()
	out, errOut, code := v.kmsfs("serve", "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "start kmsfs serve before mounting") {
		t.Fatalf("serve beside a mount: exit %d: %s%s", code, out, errOut)
	}
	if _, err := os.ReadDir(v.plain); err != nil {
		t.Errorf("the mount suffered: %v", err)
	}
}
