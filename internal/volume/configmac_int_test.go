package volume

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var updateVectors = flag.Bool("update", false, "rewrite testdata/vectors/config")

const configVectorPath = "../../testdata/vectors/config/kms-plaintext-names.vec"

// TestConfigVectors checks the config MAC vector (FORMAT.md §15.4): a
// fixed config and root key give the stated encoding, K_mac and MAC.
func TestConfigVectors(t *testing.T) {
	root := sha256.Sum256([]byte("kmsfs test config root key"))
	c := Config{Version: ConfigVersionKMS, VolumeID: "000102030405060708090a0b0c0d0e0f", KeyId: "1234abcd-12ab-34cd-56ef-1234567890ab",
		ChunkSize: 65536, PlaintextNames: true, KMS: &KMS{Endpoint: "https://kms.example:8400", KeyArn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", Region: "us-east-1"}}
	enc, err := c.encodeFields()
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.macKeyFrom(root[:])
	if err != nil {
		t.Fatal(err)
	}
	mac, err := c.computeMAC(k)
	if err != nil {
		t.Fatal(err)
	}
	c.ConfigMAC = mac
	j, _ := json.MarshalIndent(c, "", "\t")
	got := fmt.Sprintf("name: kms-plaintext-names\nroot key: %x\nmac key: %x\nencoding: %s\nconfig-mac: %s\n\n%s\n", root, k, hex.EncodeToString(enc), mac, j)
	if *updateVectors {
		if err := os.WriteFile(configVectorPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(configVectorPath)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("config vector differs:\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(got, "config-mac: "+mac) {
		t.Error("vector lacks its MAC")
	}
}
