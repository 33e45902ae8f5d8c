package kmsapi

import (
	"context"

	"github.com/kmsfs/kmsfs/keyring"
)

var _ keyring.RandomGenerator = (*Client)(nil)

const targetGenerateRandom = trentPrefix + "GenerateRandom"

// randomOps serves GenerateRandom when svc has it; a service without it
// answers UnknownOperationException, as for any operation it does not know.
func randomOps(svc keyring.Service) map[string]endpoint {
	g, ok := svc.(keyring.RandomGenerator)
	if !ok {
		return nil
	}
	return map[string]endpoint{targetGenerateRandom: wipingOp(g.GenerateRandom, wipeGenerateRandom)}
}

// GenerateRandom implements [keyring.RandomGenerator] over the wire.
func (c *Client) GenerateRandom(ctx context.Context, in *keyring.GenerateRandomInput) (*keyring.GenerateRandomOutput, error) {
	return call[keyring.GenerateRandomOutput](ctx, c, targetGenerateRandom, in)
}
