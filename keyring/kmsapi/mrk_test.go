package kmsapi_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/keyring/kmsapi"
)

// TestMultiRegionRaw drives CreateKey with MultiRegion, ReplicateKey,
// DescribeKey and UpdatePrimaryRegion through the handler with raw JSON and
// checks AWS's response shapes member by member.
func TestMultiRegionRaw(t *testing.T) {
	kr := openKeyring(t, filepath.Join(t.TempDir(), "keyring"))
	_, url := newHTTPClient(t, kr, kmsapi.HandlerOptions{})
	post := func(op, body string) map[string]any {
		t.Helper()
		r := rawPost(t, url+"/", "POST", jsonType, "TrentService."+op, []byte(body), false)
		if r.status != 200 {
			t.Fatalf("%s: HTTP %d %s", op, r.status, r.body)
		}
		var m map[string]any
		if len(r.body) > 0 {
			if err := json.Unmarshal(r.body, &m); err != nil {
				t.Fatalf("%s: %v", op, err)
			}
		}
		return m
	}
	keys := func(m map[string]any) []string {
		k := make([]string, 0, len(m))
		for n := range m {
			k = append(k, n)
		}
		slices.Sort(k)
		return k
	}
	md := post("CreateKey", `{"MultiRegion":true}`)["KeyMetadata"].(map[string]any)
	id := md["KeyId"].(string)
	if !regexp.MustCompile(`^mrk-[0-9a-f]{32}$`).MatchString(id) || md["MultiRegion"] != true {
		t.Fatalf("CreateKey: %v", md)
	}
	arn := "arn:aws:kms:local:" + md["AWSAccountId"].(string) + ":key/" + id
	if md["Arn"] != arn {
		t.Fatalf("Arn %v, want %s", md["Arn"], arn)
	}
	cfg := md["MultiRegionConfiguration"].(map[string]any)
	if got := keys(cfg); !slices.Equal(got, []string{"MultiRegionKeyType", "PrimaryKey", "ReplicaKeys"}) {
		t.Fatalf("MultiRegionConfiguration members %v", got)
	}
	if cfg["MultiRegionKeyType"] != "PRIMARY" || len(cfg["ReplicaKeys"].([]any)) != 0 {
		t.Fatalf("MultiRegionConfiguration %v", cfg)
	}
	pk := cfg["PrimaryKey"].(map[string]any)
	if got := keys(pk); !slices.Equal(got, []string{"Arn", "Region"}) || pk["Arn"] != arn || pk["Region"] != "local" {
		t.Fatalf("PrimaryKey %v", pk)
	}

	out := post("ReplicateKey", `{"KeyId":"`+id+`","ReplicaRegion":"eu-west-1","Description":"r","Tags":[{"TagKey":"a","TagValue":"b"}]}`)
	if got := keys(out); !slices.Equal(got, []string{"ReplicaKeyMetadata", "ReplicaPolicy", "ReplicaTags"}) {
		t.Fatalf("ReplicateKey members %v", got)
	}
	rmd := out["ReplicaKeyMetadata"].(map[string]any)
	rarn := strings.Replace(arn, ":local:", ":eu-west-1:", 1)
	rcfg := rmd["MultiRegionConfiguration"].(map[string]any)
	if rmd["KeyId"] != id || rmd["Arn"] != rarn || rmd["Description"] != "r" || rmd["KeyState"] != "Enabled" ||
		rcfg["MultiRegionKeyType"] != "REPLICA" || rcfg["PrimaryKey"].(map[string]any)["Arn"] != arn {
		t.Fatalf("ReplicaKeyMetadata %v", rmd)
	}
	rk := rcfg["ReplicaKeys"].([]any)
	if len(rk) != 1 || rk[0].(map[string]any)["Arn"] != rarn || rk[0].(map[string]any)["Region"] != "eu-west-1" {
		t.Fatalf("ReplicaKeys %v", rk)
	}
	if tags := out["ReplicaTags"].([]any); len(tags) != 1 || tags[0].(map[string]any)["TagKey"] != "a" {
		t.Fatalf("ReplicaTags %v", out["ReplicaTags"])
	}
	if p, ok := out["ReplicaPolicy"].(string); !ok || !strings.Contains(p, "kms:*") {
		t.Fatalf("ReplicaPolicy %v", out["ReplicaPolicy"])
	}

	// The primary lists its replica.
	d := post("DescribeKey", `{"KeyId":"`+id+`"}`)["KeyMetadata"].(map[string]any)
	if rk := d["MultiRegionConfiguration"].(map[string]any)["ReplicaKeys"].([]any); len(rk) != 1 {
		t.Fatalf("DescribeKey ReplicaKeys %v", rk)
	}
	// UpdatePrimaryRegion answers an empty body.
	if m := post("UpdatePrimaryRegion", `{"KeyId":"`+id+`","PrimaryRegion":"eu-west-1"}`); len(m) != 0 {
		t.Fatalf("UpdatePrimaryRegion answered %v", m)
	}
	d = post("DescribeKey", `{"KeyId":"`+id+`"}`)["KeyMetadata"].(map[string]any)
	c := d["MultiRegionConfiguration"].(map[string]any)
	if c["MultiRegionKeyType"] != "REPLICA" || c["PrimaryKey"].(map[string]any)["Region"] != "eu-west-1" {
		t.Fatalf("after UpdatePrimaryRegion: %v", c)
	}
	// A key that is not multi-Region has neither member set.
	plain := post("CreateKey", `{}`)["KeyMetadata"].(map[string]any)
	if plain["MultiRegion"] != false || plain["MultiRegionConfiguration"] != nil {
		t.Fatalf("plain key: %v", plain)
	}
	for _, tt := range []struct{ body, typ string }{
		{`{"KeyId":"` + plain["KeyId"].(string) + `","ReplicaRegion":"eu-west-1"}`, "UnsupportedOperationException"},
		{`{"KeyId":"mrk-00000000000000000000000000000000","ReplicaRegion":"eu-west-1"}`, "NotFoundException"},
		{`{"KeyId":"` + id + `","ReplicaRegion":"Bad Region"}`, "ValidationException"},
	} {
		r := rawPost(t, url+"/", "POST", jsonType, "TrentService.ReplicateKey", []byte(tt.body), false)
		if typ, _ := errorFields(t, r.body); r.status != 400 || typ != tt.typ {
			t.Errorf("ReplicateKey %s: HTTP %d %s, want %s", tt.body, r.status, typ, tt.typ)
		}
	}
}
