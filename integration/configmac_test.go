package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigTamperRefused: an edited kmsfs.conf (another chunk size, the
// names flag flipped, another key) refuses to mount and fails fsck with
// exit 6, in both name modes; the untouched config mounts.
func TestConfigTamperRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(v *vol, m map[string]any)
	}{
		{"chunk size", func(_ *vol, m map[string]any) { m["ChunkSize"] = 4096.0 }},
		{"names flag", func(_ *vol, m map[string]any) { m["PlaintextNames"] = !(m["PlaintextNames"] == true) }},
		{"another key of the keyring", func(v *vol, m map[string]any) {
			var out struct{ KeyMetadata struct{ KeyId string } }
			if err := json.Unmarshal([]byte(v.must("--json", "key", "create")), &out); err != nil {
				v.t.Fatal(err)
			}
			m["KeyId"] = out.KeyMetadata.KeyId
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVol(t)
			path := filepath.Join(v.cipher, "kmsfs.conf")
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(orig, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(v, m)
			edited, _ := json.Marshal(m)
			if err := os.WriteFile(path, edited, 0o600); err != nil {
				t.Fatal(err)
			}
			_, errOut, code := v.kmsfs("mount", "--log", v.log, v.cipher, v.plain)
			if code != 6 || v.mounted() {
				t.Errorf("mount of an edited config: exit %d (mounted %v): %s", code, v.mounted(), errOut)
				v.umount()
			}
			if _, _, code := v.kmsfs("fsck", v.cipher); code != 6 {
				t.Errorf("fsck of an edited config: exit %d, want 6", code)
			}
			if err := os.WriteFile(path, orig, 0o600); err != nil {
				t.Fatal(err)
			}
			v.mount()
			if err := os.WriteFile(filepath.Join(v.plain, "ok"), []byte("ok"), 0o644); err != nil {
				t.Errorf("the original config: %v", err)
			}
			if strings.Contains(errOut, string(orig)) {
				t.Error("the error quotes the config")
			}
		})
	}
}
