package keyspec

import (
	"crypto/subtle"
	"encoding/asn1"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ECC_SECG_P256K1 keys. The curve arithmetic and ECDSA are decred's
// secp256k1 (crypto/ecdsa has no secp256k1); this file only writes and
// reads their DER encodings, which crypto/x509 does not know for this
// curve:
//
//   - the public key as SubjectPublicKeyInfo with AlgorithmIdentifier
//     {id-ecPublicKey, secp256k1} and the uncompressed point (RFC 5480);
//   - the private key as PKCS#8 (RFC 5208) with the same
//     AlgorithmIdentifier around an SEC 1 ECPrivateKey (RFC 5915) of
//     version 1, the 32-byte scalar and the uncompressed public key in
//     [1], as OpenSSL and crypto/x509 (for NIST curves) write it;
//   - signatures as DER SEQUENCE {r INTEGER, s INTEGER} (RFC 3279), as
//     AWS returns them.

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

// k1Scalar is the size of a secp256k1 private key and of r and s.
const k1Scalar = 32

var (
	tagECParameters = casn1.Tag(0).Constructed().ContextSpecific()
	tagECPublicKey  = casn1.Tag(1).Constructed().ContextSpecific()
)

func addK1AlgorithmIdentifier(b *cryptobyte.Builder) {
	b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidECPublicKey)
		b.AddASN1ObjectIdentifier(oidSecp256k1)
	})
}

// marshalK1SPKI returns the DER SubjectPublicKeyInfo of pub.
func marshalK1SPKI(pub *secp256k1.PublicKey) []byte {
	var b cryptobyte.Builder
	b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addK1AlgorithmIdentifier(b)
		b.AddASN1BitString(pub.SerializeUncompressed())
	})
	return b.BytesOrPanic()
}

// marshalK1PKCS8 returns the PKCS#8 DER of k, whose public key is pub.
// The caller owns and should zero the result.
func marshalK1PKCS8(k *secp256k1.PrivateKey, pub *secp256k1.PublicKey) []byte {
	var d [k1Scalar]byte
	k.Key.PutBytes(&d)
	defer clear(d[:])
	var inner cryptobyte.Builder // ECPrivateKey
	inner.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1OctetString(d[:])
		b.AddASN1(tagECPublicKey, func(b *cryptobyte.Builder) {
			b.AddASN1BitString(pub.SerializeUncompressed())
		})
	})
	ec := inner.BytesOrPanic()
	defer clear(ec)
	var b cryptobyte.Builder
	b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		addK1AlgorithmIdentifier(b)
		b.AddASN1OctetString(ec)
	})
	return b.BytesOrPanic()
}

// parseK1PKCS8 reads a PKCS#8 secp256k1 private key: version 0, the
// AlgorithmIdentifier {id-ecPublicKey, secp256k1}, no attributes, and an
// ECPrivateKey of version 1 with a 32-byte scalar in [1, n-1], optional
// parameters that must name secp256k1, and an optional public key that
// must be the scalar's (uncompressed or compressed). DER is enforced
// (cryptobyte rejects non-minimal lengths and integers). It returns the
// key and its public key, or false for anything else; b is not retained.
func parseK1PKCS8(b []byte) (*secp256k1.PrivateKey, *secp256k1.PublicKey, bool) {
	in := cryptobyte.String(b)
	var p8, alg, ecBytes cryptobyte.String
	var version int
	var oid, curve asn1.ObjectIdentifier
	if !in.ReadASN1(&p8, casn1.SEQUENCE) || !in.Empty() ||
		!p8.ReadASN1Integer(&version) || version != 0 ||
		!p8.ReadASN1(&alg, casn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidECPublicKey) ||
		!alg.ReadASN1ObjectIdentifier(&curve) || !curve.Equal(oidSecp256k1) || !alg.Empty() ||
		!p8.ReadASN1(&ecBytes, casn1.OCTET_STRING) || !p8.Empty() {
		return nil, nil, false
	}
	var ec, d, params, pubField cryptobyte.String
	var hasParams, hasPub bool
	if !ecBytes.ReadASN1(&ec, casn1.SEQUENCE) || !ecBytes.Empty() ||
		!ec.ReadASN1Integer(&version) || version != 1 ||
		!ec.ReadASN1(&d, casn1.OCTET_STRING) || len(d) != k1Scalar ||
		!ec.ReadOptionalASN1(&params, &hasParams, tagECParameters) ||
		!ec.ReadOptionalASN1(&pubField, &hasPub, tagECPublicKey) || !ec.Empty() {
		return nil, nil, false
	}
	if hasParams && (!params.ReadASN1ObjectIdentifier(&curve) || !curve.Equal(oidSecp256k1) || !params.Empty()) {
		return nil, nil, false
	}
	var s secp256k1.ModNScalar
	if overflow := s.SetByteSlice(d); overflow || s.IsZero() {
		s.Zero()
		return nil, nil, false
	}
	k := secp256k1.NewPrivateKey(&s)
	s.Zero()
	kp := k.PubKey()
	if hasPub {
		var pub []byte
		if !pubField.ReadASN1BitStringAsBytes(&pub) || !pubField.Empty() ||
			subtle.ConstantTimeCompare(pub, kp.SerializeUncompressed()) != 1 && subtle.ConstantTimeCompare(pub, kp.SerializeCompressed()) != 1 {
			k.Zero()
			return nil, nil, false
		}
	}
	return k, kp, true
}

// signK1 signs a SHA-256 digest with decred's ECDSA and returns the DER
// signature. decred's Sign is deterministic (RFC 6979) and normalises s
// to the lower half of the group order (BIP 62, low S). Note that decred
// computes the nonce point k·G with a variable-time scalar multiplication,
// as in dcrd and btcd; the deterministic nonce is never reused across
// distinct digests, but signing is not constant time.
func signK1(k *secp256k1.PrivateKey, digest []byte) []byte {
	sig := ecdsa.Sign(k, digest)
	r, s := sig.R(), sig.S()
	rb, sb := r.Bytes(), s.Bytes()
	var b cryptobyte.Builder
	b.AddASN1(casn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(rb[:]))
		b.AddASN1BigInt(new(big.Int).SetBytes(sb[:]))
	})
	return b.BytesOrPanic()
}

// verifyK1 checks a DER signature over a SHA-256 digest with decred's
// ECDSA verifier. r and s must be DER INTEGERs in [1, n-1]; s may be in
// either half of the group order (AWS KMS's secp256k1 signatures are not
// necessarily low S), which decred's Verify accepts.
func verifyK1(pub *secp256k1.PublicKey, digest, sig []byte) bool {
	in := cryptobyte.String(sig)
	var seq cryptobyte.String
	r, s := new(big.Int), new(big.Int)
	if !in.ReadASN1(&seq, casn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(r) || !seq.ReadASN1Integer(s) || !seq.Empty() {
		return false
	}
	var rs, ss secp256k1.ModNScalar
	if !k1ScalarOf(r, &rs) || !k1ScalarOf(s, &ss) {
		return false
	}
	return ecdsa.NewSignature(&rs, &ss).Verify(digest, pub)
}

// k1ScalarOf sets out to v if v is in [1, n-1].
func k1ScalarOf(v *big.Int, out *secp256k1.ModNScalar) bool {
	if v.Sign() <= 0 || v.BitLen() > 8*k1Scalar {
		return false
	}
	var buf [k1Scalar]byte
	v.FillBytes(buf[:])
	overflow := out.SetBytes(&buf)
	return overflow == 0 && !out.IsZero()
}
