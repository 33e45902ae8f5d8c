package names_test

import (
	"errors"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

// seeds adds the value of key from every vector of kind to f, failing if
// there are none (a renamed field must not silently empty the corpus).
func seeds(f *testing.F, kind, key string) []string {
	f.Helper()
	var out []string
	for _, v := range loadVectors(f) {
		if s, ok := v[key]; ok && v["kind"] == kind {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		f.Fatalf("no %s %q seeds in testdata/vectors", kind, key)
	}
	return out
}

// vectorCodec returns a Codec under the vectors' name key, so that seeds
// reach the success paths.
func vectorCodec(f *testing.F) *names.Codec {
	f.Helper()
	return loadVectors(f)["002-name-hello.txt"].codec(f)
}

// FuzzDecryptName: never panics, only ErrBadName, and a name that decrypts
// re-encrypts to exactly the same encoding (one name, one on-disk form).
func FuzzDecryptName(f *testing.F) {
	for _, s := range append(seeds(f, "name", "disk-name"), seeds(f, "name", "side")...) {
		f.Add(s)
	}
	c := vectorCodec(f)
	iv := loadVectors(f)["002-name-hello.txt"].dirIV(f)
	f.Fuzz(func(t *testing.T, encoded string) {
		name, err := c.DecryptName(iv, encoded)
		if err != nil {
			if !errors.Is(err, names.ErrBadName) {
				t.Fatalf("DecryptName error %v is not ErrBadName", err)
			}
			return
		}
		disk, side, err := c.EncryptName(iv, name)
		if err != nil || (disk != encoded && side != encoded) {
			t.Fatalf("decrypted %q re-encrypts to %q/%q, %v; want %q", name, disk, side, err, encoded)
		}
	})
}

// FuzzUnmark: never panics; a reversible mark re-marks to itself.
func FuzzUnmark(f *testing.F) {
	for _, s := range seeds(f, "mark", "marked") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		disk, ok := names.Unmark(name)
		if ok && names.Mark(disk) != name {
			t.Fatalf("Mark(Unmark(%q)) = %q", name, names.Mark(disk))
		}
		if ok && !names.IsMarked(name) {
			t.Fatalf("Unmark accepted %q, which IsMarked rejects", name)
		}
	})
}

// FuzzParseLongSide: never panics; accepted content hashes to the name.
func FuzzParseLongSide(f *testing.F) {
	for _, s := range seeds(f, "name", "side") {
		f.Add(names.LongName(s), []byte(s))
	}
	f.Add("kmsfs.long.x", []byte("x"))
	f.Fuzz(func(t *testing.T, disk string, content []byte) {
		encoded, err := names.ParseLongSide(disk, content)
		if err == nil && (names.LongName(encoded) != disk || len(encoded) <= names.MaxNameLen) {
			t.Fatalf("accepted side %q for %q", content, disk)
		}
	})
}

// FuzzDecryptTarget: never panics, only ErrUnauthenticated.
func FuzzDecryptTarget(f *testing.F) {
	for _, s := range seeds(f, "target", "encoded") {
		f.Add(s)
	}
	c := vectorCodec(f)
	f.Fuzz(func(t *testing.T, enc string) {
		if _, err := c.DecryptTarget(enc); err != nil && !errors.Is(err, names.ErrUnauthenticated) {
			t.Fatalf("DecryptTarget error %v", err)
		}
	})
}

// FuzzDecryptXattrName: never panics; accepted names re-encrypt identically.
func FuzzDecryptXattrName(f *testing.F) {
	for _, s := range seeds(f, "xattr-name", "disk-name") {
		f.Add(s)
	}
	c := vectorCodec(f)
	f.Fuzz(func(t *testing.T, enc string) {
		name, err := c.DecryptXattrName(enc)
		if err != nil {
			return
		}
		if again, err := c.EncryptXattrName(name); err != nil || again != enc {
			t.Fatalf("%q decrypts to %q which re-encrypts to %q, %v", enc, name, again, err)
		}
	})
}

// FuzzOpenXattrValue: never panics, only ErrUnauthenticated or ErrBadBinding.
func FuzzOpenXattrValue(f *testing.F) {
	n := 0
	for _, v := range loadVectors(f) {
		if v["kind"] == "xattr-value" {
			f.Add(v.bytes(f, "file-id"), v["xattr-name"], v.bytes(f, "sealed-hex"))
			n++
		}
	}
	if n == 0 {
		f.Fatal("no xattr-value seeds in testdata/vectors")
	}
	c := vectorCodec(f)
	f.Fuzz(func(t *testing.T, fileID []byte, name string, sealed []byte) {
		_, err := c.OpenXattrValue(fileID, name, sealed)
		if err != nil && !errors.Is(err, names.ErrUnauthenticated) && !errors.Is(err, names.ErrBadBinding) {
			t.Fatalf("OpenXattrValue error %v", err)
		}
	})
}
