package keyring

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// EncodeContext encodes an encryption context unambiguously, as the AWS
// Encryption SDK: u16 count, then the pairs sorted by key bytes, each
// u16 keyLen || key || u16 valueLen || value. An empty or nil context
// encodes as no bytes. Every operation that takes an encryption context
// authenticates this encoding; callers outside a key service use it to bind
// a context into other AAD (for example `kmsfs encrypt --context`).
func EncodeContext(ctx map[string]string) ([]byte, error) {
	if len(ctx) == 0 {
		return nil, nil
	}
	if len(ctx) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: encryption context has %d pairs", ErrValidation, len(ctx))
	}
	keys := make([]string, 0, len(ctx))
	for k, v := range ctx {
		if len(k) > math.MaxUint16 || len(v) > math.MaxUint16 {
			return nil, fmt.Errorf("%w: encryption context entry longer than %d bytes", ErrValidation, math.MaxUint16)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys) // Go compares strings bytewise
	b := binary.BigEndian.AppendUint16(nil, uint16(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(ctx[k])))
		b = append(b, ctx[k]...)
	}
	return b, nil
}
