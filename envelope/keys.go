package envelope

import (
	"context"
	"encoding/hex"
)

// KeyIDSize is the size in bytes of a master key ID (a UUID) in a header.
const KeyIDSize = 16

// KeyRef names one version of one master key: the key under which a
// header's data key (DEK) is wrapped. See FORMAT.md, "Header slot".
type KeyRef struct {
	KeyID   [KeyIDSize]byte // the master key's UUID, as 16 raw bytes
	Version uint32          // the key version, starting at 1
}

// String formats r as "UUID/vN" for logs and errors; it holds no secret.
func (r KeyRef) String() string {
	h := hex.EncodeToString(r.KeyID[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:] + "/v" + itoa(r.Version)
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// A KeyWrapper wraps fresh data keys for new files. It is bound to one
// master key and always wraps under that key's newest enabled version.
//
// WrapKey must not return until the key version it used is durable, so that
// no file can ever be wrapped under a key that a crash could lose.
type KeyWrapper interface {
	WrapKey(ctx context.Context, dek, aad []byte) (ref KeyRef, wrapped []byte, err error)
}

// A KeyUnwrapper recovers a data key from a header. It returns an error
// wrapping ErrUnauthenticated when the wrapped key or its aad were altered
// or the key version is not the one that wrapped it; it never tells those
// cases apart.
type KeyUnwrapper interface {
	UnwrapKey(ctx context.Context, ref KeyRef, wrapped, aad []byte) (dek []byte, err error)
}

// KeyService both wraps and unwraps; it is what the filesystem holds.
type KeyService interface {
	KeyWrapper
	KeyUnwrapper
}
