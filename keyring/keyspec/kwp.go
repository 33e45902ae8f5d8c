package keyspec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// AES Key Wrap with Padding, RFC 5649. Neither the standard library nor
// golang.org/x/crypto has it, and no Go module providing it is a
// dependency here, so it is built on crypto/aes (the block cipher) and
// checked against RFC 5649's section 6 vectors and OpenSSL's
// id-aes256-wrap-pad.

// kwpAIV is the RFC 5649 alternative initial value's constant half.
var kwpAIV = [4]byte{0xa6, 0x59, 0x59, 0xa6}

var errKWP = errors.New("keyspec: key unwrap failed")

// kwpWrap wraps plaintext (1 to 2^32-1 bytes) under kek.
func kwpWrap(kek, plaintext []byte) ([]byte, error) {
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(plaintext) == 0 || uint64(len(plaintext)) > 1<<32-1 {
		return nil, errKWP
	}
	n := (len(plaintext) + 7) / 8
	out := make([]byte, 8+8*n)
	copy(out, kwpAIV[:])
	binary.BigEndian.PutUint32(out[4:8], uint32(len(plaintext)))
	copy(out[8:], plaintext)
	if n == 1 {
		b.Encrypt(out, out)
		return out, nil
	}
	wrapW(b, out, n)
	return out, nil
}

// wrapW is RFC 3394's W on a = out[:8], r = out[8:] of n 64-bit blocks.
func wrapW(b cipher.Block, out []byte, n int) {
	var buf [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(buf[:8], out[:8])
			copy(buf[8:], out[8*i:8*i+8])
			b.Encrypt(buf[:], buf[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(buf[:8])^t)
			copy(out[8*i:], buf[8:])
		}
	}
}

// kwpUnwrap unwraps ciphertext under kek. Every failure is the same opaque
// errKWP, and no partial plaintext is returned.
func kwpUnwrap(kek, ciphertext []byte) ([]byte, error) {
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, errKWP
	}
	if len(ciphertext) < 16 || len(ciphertext)%8 != 0 {
		return nil, errKWP
	}
	n := len(ciphertext)/8 - 1
	out := append([]byte(nil), ciphertext...)
	if n == 1 {
		b.Decrypt(out, out)
	} else {
		unwrapW(b, out, n)
	}
	mli := int(binary.BigEndian.Uint32(out[4:8]))
	ok := subtle.ConstantTimeCompare(out[:4], kwpAIV[:])
	ok &= subtle.ConstantTimeLessOrEq(8*(n-1)+1, mli) & subtle.ConstantTimeLessOrEq(mli, 8*n)
	if ok != 1 {
		clear(out)
		return nil, errKWP
	}
	var pad byte
	for _, c := range out[8+mli:] {
		pad |= c
	}
	if pad != 0 {
		clear(out)
		return nil, errKWP
	}
	pt := append([]byte(nil), out[8:8+mli]...)
	clear(out)
	return pt, nil
}

// unwrapW is RFC 3394's W⁻¹.
func unwrapW(b cipher.Block, out []byte, n int) {
	var buf [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:8], binary.BigEndian.Uint64(out[:8])^t)
			copy(buf[8:], out[8*i:8*i+8])
			b.Decrypt(buf[:], buf[:])
			copy(out[:8], buf[:8])
			copy(out[8*i:], buf[8:])
		}
	}
	clear(buf[:])
}
