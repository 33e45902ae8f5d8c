package envelope_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"
)

// TestIndependentDecoder decrypts every success vector with a second,
// deliberately naive implementation written from FORMAT.md alone (no
// envelope code), so the document and the package cannot drift apart
// silently.
func TestIndependentDecoder(t *testing.T) {
	for name, data := range readVectors(t) {
		pv, err := parseVector(data)
		if err != nil {
			t.Fatal(err)
		}
		if pv.fields["expect"] != expSuccess || len(pv.ct) == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			plain, dek, err := specDecode(pv.ct, pv.keys)
			if err != nil {
				t.Fatal(err)
			}
			if sum := fmt.Sprintf("%x", sha256.Sum256(plain)); sum != pv.fields["plaintext-sha256"] {
				t.Errorf("plaintext sha256 %s, want %s", sum, pv.fields["plaintext-sha256"])
			}
			if hex.EncodeToString(dek) != pv.fields["dek"] {
				t.Errorf("dek %x, want %s", dek, pv.fields["dek"])
			}
		})
	}
}

func hkdf32(ikm, salt []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, ikm, salt, info, 32)
	if err != nil {
		panic(err)
	}
	return k
}

func gcm(key []byte) cipher.AEAD {
	b, _ := aes.NewCipher(key)
	a, _ := cipher.NewGCM(b)
	return a
}

// specDecode follows FORMAT.md sections 3-7 step by step.
func specDecode(ct []byte, masterKeys map[uint32][]byte) (plain, dek []byte, err error) {
	pre := ct[:32]
	format := binary.BigEndian.Uint16(pre[6:])
	if string(pre[:6]) != "KMSFS\x00" || (format != 1 && format != 2) {
		return nil, nil, fmt.Errorf("bad preamble")
	}
	c := int(binary.BigEndian.Uint32(pre[8:]))
	fileID := pre[16:32]
	var best []byte
	var bestGen uint64
	for pos := range 2 { // section 4.4: highest generation that authenticates
		slot := ct[32+pos*256 : 32+(pos+1)*256]
		wrapped, keyRef, ok := specSlotWrap(format, slot)
		gen := binary.BigEndian.Uint64(slot)
		if !ok || gen == 0 || masterKeys[binary.BigEndian.Uint32(keyRef[16:])] == nil {
			continue
		}
		version := binary.BigEndian.Uint32(keyRef[16:])
		aad := append(append([]byte("kmsfs v1 dek wrap"), keyRef...), pre...) // key ID || version || preamble
		k, err := gcm(hkdf32(masterKeys[version], wrapped[:32], "kmsfs v1 dek wrap")).Open(nil, make([]byte, 12), wrapped[32:], aad)
		if err != nil {
			continue
		}
		m := hmac.New(sha256.New, hkdf32(k, fileID, "kmsfs v1 header mac"))
		m.Write(pre)
		m.Write(slot[:224])
		if hmac.Equal(m.Sum(nil), slot[224:]) && (best == nil || gen > bestGen) {
			best, bestGen = k, gen
		}
	}
	if best == nil {
		return nil, nil, fmt.Errorf("no slot authenticates")
	}
	aead := gcm(hkdf32(best, fileID, "kmsfs v1 chunk key"))
	body := ct[544:]
	for i := 0; len(body) > 0; i++ { // section 6
		n := min(len(body), c+28)
		stored := body[:n]
		body = body[n:]
		if n == c+28 && len(body) > 0 && bytes.Equal(stored, make([]byte, n)) {
			plain = append(plain, make([]byte, c)...) // a hole
			continue
		}
		aad := binary.BigEndian.AppendUint64(append([]byte(nil), fileID...), uint64(i))
		pt, err := aead.Open(nil, stored[:12], stored[12:], aad)
		if err != nil {
			return nil, nil, fmt.Errorf("chunk %d: %w", i, err)
		}
		plain = append(plain, pt...)
	}
	return plain, best, nil
}

// specSlotWrap returns the FORMAT.md §5.2 wrap and the key ID || version it was made
// under: from a version 1 slot (section 4.1) as stored, from a version 2
// KMS slot (section 4.6) out of the test KMS's blob, which is that wrap
// under version 1 padded with 'K' bytes (section 12).
func specSlotWrap(format uint16, slot []byte) (wrapped, keyRef []byte, ok bool) {
	if format == 1 {
		n := int(binary.BigEndian.Uint16(slot[36:]))
		return slot[38 : 38+min(n, 186)], slot[8:28], n >= 32 && n <= 186
	}
	n := int(binary.BigEndian.Uint16(slot[32:]))
	if n < 80 || n > 190 || len(bytes.Trim(slot[34+80:34+n], "K")) != 0 {
		return nil, nil, false
	}
	return slot[34 : 34+80], binary.BigEndian.AppendUint32(bytes.Clone(slot[8:24]), 1), true
}
