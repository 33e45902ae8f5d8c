package names_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

// A vector is one testdata/vectors file: "key: value" lines, '#' comments.
type vector map[string]string

// loadVectors reads every vector file; it fails the test if there are none.
func loadVectors(t testing.TB) map[string]vector {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no vectors in testdata/vectors (%v)", err)
	}
	out := map[string]vector{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		v := vector{}
		for _, line := range strings.Split(string(data), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, val, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("%s: malformed line %q", p, line)
			}
			v[k] = val
		}
		out[filepath.Base(p)] = v
	}
	return out
}

func (v vector) bytes(t testing.TB, key string) []byte {
	t.Helper()
	b, err := hex.DecodeString(v[key])
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return b
}

func (v vector) codec(t testing.TB) *names.Codec {
	t.Helper()
	c, err := names.NewCodec(v.bytes(t, "name-key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func (v vector) dirIV(t testing.TB) [names.DirIVSize]byte {
	t.Helper()
	iv, err := names.ParseDirIV(v.bytes(t, "dir-iv"))
	if err != nil {
		t.Fatal(err)
	}
	return iv
}

// TestVectors checks every known-answer vector; they freeze the format of
// NAMES.md and were cross-checked with an independent implementation.
func TestVectors(t *testing.T) {
	for file, v := range loadVectors(t) {
		t.Run(file, func(t *testing.T) {
			check, ok := map[string]func(*testing.T, vector){
				"name": checkNameVector, "xattr-name": checkXattrNameVector,
				"target": checkTargetVector, "xattr-value": checkXattrValueVector, "mark": checkMarkVector,
			}[v["kind"]]
			if !ok {
				t.Fatalf("unknown kind %q", v["kind"])
			}
			check(t, v)
		})
	}
}

func checkNameVector(t *testing.T, v vector) {
	c, iv := v.codec(t), v.dirIV(t)
	if v["expect"] == "success" {
		disk, side, err := c.EncryptName(iv, string(v.bytes(t, "plaintext-hex")))
		if err != nil || disk != v["disk-name"] || side != v["side"] {
			t.Fatalf("EncryptName = %q, %q, %v; want %q, %q", disk, side, err, v["disk-name"], v["side"])
		}
	}
	got, err := decryptVectorName(c, iv, v)
	switch v["expect"] {
	case "success":
		if err != nil || got != string(v.bytes(t, "plaintext-hex")) {
			t.Fatalf("decrypt = %q, %v", got, err)
		}
	case "bad name":
		if !errors.Is(err, names.ErrBadName) {
			t.Fatalf("decrypt = %q, %v; want ErrBadName", got, err)
		}
	default:
		t.Fatalf("unknown expect %q", v["expect"])
	}
}

func decryptVectorName(c *names.Codec, iv [names.DirIVSize]byte, v vector) (string, error) {
	encoded := v["disk-name"]
	if side, ok := v["side"]; ok {
		var err error
		if encoded, err = names.ParseLongSide(encoded, []byte(side)); err != nil {
			return "", err
		}
	}
	return c.DecryptName(iv, encoded)
}

func checkXattrNameVector(t *testing.T, v vector) {
	c := v.codec(t)
	got, err := c.DecryptXattrName(v["disk-name"])
	if v["expect"] == "bad name" {
		if !errors.Is(err, names.ErrBadName) {
			t.Fatalf("DecryptXattrName = %q, %v; want ErrBadName", got, err)
		}
		return
	}
	want := string(v.bytes(t, "plaintext-hex"))
	enc, encErr := c.EncryptXattrName(want)
	if err != nil || got != want || encErr != nil || enc != v["disk-name"] {
		t.Fatalf("xattr name: decrypt %q, %v; encrypt %q, %v", got, err, enc, encErr)
	}
}

func checkTargetVector(t *testing.T, v vector) {
	got, err := v.codec(t).DecryptTarget(v["encoded"])
	if v["expect"] == "auth failure" {
		if !errors.Is(err, names.ErrUnauthenticated) {
			t.Fatalf("DecryptTarget = %q, %v; want ErrUnauthenticated", got, err)
		}
		return
	}
	if err != nil || got != string(v.bytes(t, "plaintext-hex")) {
		t.Fatalf("DecryptTarget = %q, %v", got, err)
	}
}

func checkXattrValueVector(t *testing.T, v vector) {
	got, err := v.codec(t).OpenXattrValue(v.bytes(t, "file-id"), v["xattr-name"], v.bytes(t, "sealed-hex"))
	if v["expect"] == "auth failure" {
		if !errors.Is(err, names.ErrUnauthenticated) {
			t.Fatalf("OpenXattrValue = %q, %v; want ErrUnauthenticated", got, err)
		}
		return
	}
	if err != nil || !bytes.Equal(got, v.bytes(t, "plaintext-hex")) {
		t.Fatalf("OpenXattrValue = %q, %v", got, err)
	}
}

func checkMarkVector(t *testing.T, v vector) {
	disk := string(v.bytes(t, "disk-name-hex"))
	if got := names.Mark(disk); got != v["marked"] {
		t.Fatalf("Mark = %q, want %q", got, v["marked"])
	}
}
