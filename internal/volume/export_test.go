package volume

import (
	"context"

	"github.com/kmsfs/kmsfs/envelope"
)

// StripMACForTest rewrites c as a config written before config MACs:
// no MAC, no config key, its name key rewrapped under the old label.
func StripMACForTest(ctx context.Context, c *Config, ks envelope.KeyService) error {
	if !c.PlaintextNames {
		key, err := c.NameKey(ctx, ks)
		if err != nil {
			return err
		}
		defer clear(key)
		c.authenticated = false
		wk, err := c.wrapKey(ctx, ks, key, nameKeyLabel)
		if err != nil {
			return err
		}
		c.WrappedNameKey = wk
	}
	c.WrappedConfigKey, c.ConfigMAC, c.macKey = nil, "", nil
	return c.Save(c.dir)
}
