package maintain

import (
	"strings"
	"testing"

	"github.com/kmsfs/kmsfs/internal/names"
)

// TestLostName checks that every name lostName makes fits in a directory
// entry, contains a character base64url lacks (so it never decodes as an
// encrypted name), and differs for different old names, also at the
// longest name, where a '~' no longer fits after it.
func TestLostName(t *testing.T) {
	seen := map[string]string{}
	for _, disk := range []string{
		"a",
		"AAAAAAAAAAAAAAAAAAAAAA",
		names.LongName(strings.Repeat("x", 300)),
		strings.Repeat("b", names.MaxNameLen-1),
		strings.Repeat("c", names.MaxNameLen),
		strings.Repeat("c", names.MaxNameLen-1) + "d",
	} {
		got := lostName(disk)
		if len(got) > names.MaxNameLen || !strings.Contains(got, "~") || names.IsLong(got) || names.IsReserved(got) {
			t.Errorf("lostName(%d bytes) = %q: too long, no '~', or a long or reserved name", len(disk), got)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("lostName gives %q for both %q and %q", got, prev, disk)
		}
		seen[got] = disk
	}
}
