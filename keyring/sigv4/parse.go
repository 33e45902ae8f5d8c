package sigv4

import (
	"strings"
)

// The header layout, from the AWS General Reference, "Add the signature to
// the HTTP request":
//
//	Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<yyyymmdd>/<region>/<service>/aws4_request,
//	    SignedHeaders=<h1>;<h2>;..., Signature=<64 lowercase hex digits>
const (
	algorithm  = "AWS4-HMAC-SHA256"
	terminator = "aws4_request"
	// amzDateLayout is X-Amz-Date's ISO 8601 basic format.
	amzDateLayout = "20060102T150405Z"
	scopeDateLen  = len("20060102")
	signatureLen  = 64 // hex of a SHA-256 HMAC
	// maxAuthorizationLen bounds the parser's work on attacker input; real
	// headers are ~250 bytes (Go SDK's, with seven signed headers).
	maxAuthorizationLen = 4096
)

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKeyID string
	date        string // yyyymmdd
	region      string
	service     string
	terminator  string
	// signedHeaders is the SignedHeaders value as sent; headers its names.
	signedHeaders string
	headers       []string
	signature     string
}

// parseAuthorization parses a SigV4 Authorization header. It checks shape
// only (every part present once, non-empty, lowercase hex signature,
// lowercase header names); the scope's values are checked by the caller.
func parseAuthorization(s string) (authorization, bool) {
	var a authorization
	rest, ok := strings.CutPrefix(s, algorithm+" ")
	if !ok || len(s) > maxAuthorizationLen {
		return a, false
	}
	var cred, seen string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" || strings.Contains(seen, k+" ") {
			return a, false
		}
		seen += k + " "
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			a.signedHeaders = v
		case "Signature":
			a.signature = v
		default:
			return a, false
		}
	}
	if !parseCredential(cred, &a) || !validSignature(a.signature) {
		return a, false
	}
	a.headers = strings.Split(a.signedHeaders, ";")
	for _, h := range a.headers {
		if !validHeaderName(h) {
			return a, false
		}
	}
	return a, true
}

// parseCredential splits <key id>/<date>/<region>/<service>/<terminator>.
func parseCredential(cred string, a *authorization) bool {
	p := strings.Split(cred, "/")
	if len(p) != 5 {
		return false
	}
	for _, s := range p {
		if s == "" {
			return false
		}
	}
	a.accessKeyID, a.date, a.region, a.service, a.terminator = p[0], p[1], p[2], p[3], p[4]
	return true
}

func validSignature(s string) bool {
	if len(s) != signatureLen {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validHeaderName accepts a lowercase HTTP token (RFC 9110, section 5.6.2).
func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for _, c := range []byte(h) {
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// String formats a as the SDK signer writes the header.
func (a authorization) String() string {
	return algorithm + " Credential=" + a.accessKeyID + "/" + a.date + "/" + a.region + "/" +
		a.service + "/" + a.terminator + ", SignedHeaders=" + a.signedHeaders + ", Signature=" + a.signature
}

// signs reports whether h is among the signed headers.
func (a authorization) signs(h string) bool {
	for _, s := range a.headers {
		if s == h {
			return true
		}
	}
	return false
}
