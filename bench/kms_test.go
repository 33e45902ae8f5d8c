package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/kmsfs/kmsfs/keyring"
	"github.com/kmsfs/kmsfs/keyring/kmsapi"
	"github.com/kmsfs/kmsfs/keyring/local"
	"github.com/kmsfs/kmsfs/keyring/policy"
	"github.com/kmsfs/kmsfs/keyring/server"
	"github.com/kmsfs/kmsfs/keyring/sigv4"
)

// BenchmarkKMSServer measures GenerateDataKey and Decrypt over loopback
// with the AWS SDK for Go: the kmsfs server (SigV4 verification, key
// policy evaluation, the Badger keyring) beside the same client against a
// no-op server that answers without authenticating or touching keys,
// measured in the same run. The ratio of the two is the server's cost;
// p50 and p99 latencies are reported as metrics.
//
//	go test -run '^$' -bench KMSServer -benchtime 2000x ./bench
func BenchmarkKMSServer(b *testing.B) {
	real := startKMS(b, false)
	noop := startKMS(b, true)
	for _, op := range []string{"GenerateDataKey", "Decrypt"} {
		for _, clients := range []int{1, 4} {
			for _, s := range []struct {
				name string
				k    *kmsTarget
			}{{"noop", noop}, {"kmsfs", real}} {
				b.Run(fmt.Sprintf("%s/clients=%d/%s", op, clients, s.name), func(b *testing.B) {
					lat := s.k.run(b, op, clients)
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
					b.ReportMetric(percentile(lat, 50).Seconds()*1e3, "p50-ms")
					b.ReportMetric(percentile(lat, 99).Seconds()*1e3, "p99-ms")
				})
			}
		}
	}
}

// kmsTarget is a server on loopback and what requests to it need.
type kmsTarget struct {
	client *kms.Client
	keyID  string
	blob   []byte
}

// startKMS serves a keyring (or, with noop, canned answers) on loopback.
func startKMS(b *testing.B, noop bool) *kmsTarget {
	b.Helper()
	const id, secret = "AKIABENCHMARKBENCHMA", "benchmark-secret-benchmark-secret-000000"
	var h http.Handler
	auth := server.AuthenticatorFunc(func(*http.Request, []byte) (keyring.Principal, error) { return keyring.Principal{}, nil })
	t := &kmsTarget{keyID: "alias/kmsfs", blob: make([]byte, 100)}
	if noop {
		h = http.HandlerFunc(cannedKMS)
	} else {
		kr, err := local.Open(filepath.Join(b.TempDir(), "keyring"), []byte("pw"), local.Options{Create: true, KDF: testkeys.KDF, Account: "111122223333"})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { kr.Close() })
		kr.SetAuthorizer(&policy.Authorizer{})
		ak, err := kr.CreateAccessKey(context.Background(), &keyring.CreateAccessKeyInput{Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		v := &sigv4.Verifier{Lookup: func(ctx context.Context, id string) (*sigv4.Credential, error) {
			s, p, active, err := kr.LookupAccessKey(ctx, id)
			if err != nil {
				return nil, sigv4.ErrUnknownAccessKey
			}
			return &sigv4.Credential{AccessKeyID: id, Secret: s, Principal: p, Disabled: !active}, nil
		}}
		auth = server.AuthenticatorFunc(v.Verify)
		h = kmsapi.NewHandler(kr, kmsapi.HandlerOptions{})
		key, err := kr.CreateKey(context.Background(), &keyring.CreateKeyInput{})
		if err != nil {
			b.Fatal(err)
		}
		t.keyID = key.KeyMetadata.KeyId
		t.client = newKMSClient(serveKMS(b, h, auth), ak.AccessKey.AccessKeyId, ak.AccessKey.SecretAccessKey)
		out, err := t.client.GenerateDataKey(context.Background(), &kms.GenerateDataKeyInput{KeyId: &t.keyID, KeySpec: types.DataKeySpecAes256})
		if err != nil {
			b.Fatal(err)
		}
		t.blob = out.CiphertextBlob
		return t
	}
	t.client = newKMSClient(serveKMS(b, h, auth), id, secret)
	return t
}

func serveKMS(b *testing.B, h http.Handler, auth server.Authenticator) string {
	b.Helper()
	srv, err := server.New(server.Options{Handler: h, Auth: auth, Metrics: server.NewMetrics()})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

func newKMSClient(endpoint, id, secret string) *kms.Client {
	return kms.New(kms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
	})
}

// cannedKMS answers GenerateDataKey and Decrypt with fixed bytes.
func cannedKMS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	out := map[string]any{"KeyId": "arn:aws:kms:local:111122223333:key/noop", "Plaintext": make([]byte, 32),
		"CiphertextBlob": make([]byte, 100), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
	json.NewEncoder(w).Encode(out)
}

// run makes b.N requests of op from clients goroutines and returns their
// latencies.
func (k *kmsTarget) run(b *testing.B, op string, clients int) []time.Duration {
	ctx := context.Background()
	call := func() error {
		var err error
		switch op {
		case "GenerateDataKey":
			_, err = k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &k.keyID, KeySpec: types.DataKeySpecAes256})
		default:
			_, err = k.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: k.blob})
		}
		return err
	}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	next := make(chan int, b.N)
	for i := range b.N {
		next <- i
	}
	close(next)
	b.ResetTimer()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				if err := call(); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	return lat
}

func percentile(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
