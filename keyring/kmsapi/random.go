package kmsapi

import (
	"context"

	"github.com/kmsfs/kmsfs/keyring"
)

// RandomGenerator serves AWS KMS's GenerateRandom, which is not part of
// [keyring.Service] but which AWS tooling calls. The local
// *keyring.Keyring implements it, and so does [Client].
type RandomGenerator interface {
	GenerateRandom(ctx context.Context, in *keyring.GenerateRandomInput) (*keyring.GenerateRandomOutput, error)
}

var (
	_ RandomGenerator = (*keyring.Keyring)(nil)
	_ RandomGenerator = (*Client)(nil)
)

const targetGenerateRandom = trentPrefix + "GenerateRandom"

// randomOps serves GenerateRandom when svc has it; a service without it
// answers UnknownOperationException, as for any operation it does not know.
func randomOps(svc keyring.Service) map[string]endpoint {
	g, ok := svc.(RandomGenerator)
	if !ok {
		return nil
	}
	return map[string]endpoint{targetGenerateRandom: wipingOp(g.GenerateRandom, wipeGenerateRandom)}
}

// GenerateRandom implements [RandomGenerator] over the wire.
func (c *Client) GenerateRandom(ctx context.Context, in *keyring.GenerateRandomInput) (*keyring.GenerateRandomOutput, error) {
	return call[keyring.GenerateRandomOutput](ctx, c, targetGenerateRandom, in)
}
