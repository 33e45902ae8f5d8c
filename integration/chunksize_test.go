package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kmsfs/kmsfs/envelope"
	"github.com/kmsfs/kmsfs/internal/volume"
)

// TestChunkSizeOfVolume checks that kmsfs init gives a new volume
// volume.DefaultChunkSize, and that a volume with 64 KiB chunks (what init
// wrote before issue 10: the config is the same) keeps them: it mounts,
// its files read back after a remount, and the files it writes are laid
// out in its own chunk size.
func TestChunkSizeOfVolume(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		chunk int
	}{
		{"default", nil, volume.DefaultChunkSize},
		{"64KiB", []string{"--chunk-size", "65536"}, 64 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVol(t, tc.args...)
			conf, err := volume.Load(v.cipher)
			if err != nil {
				t.Fatal(err)
			}
			if conf.ChunkSize != tc.chunk {
				t.Fatalf("config chunk size %d, want %d", conf.ChunkSize, tc.chunk)
			}
			data := bytes.Repeat([]byte("kmsfs chunk size "), 12345) // 3+ chunks at 64 KiB
			v.mount()
			if err := os.WriteFile(filepath.Join(v.plain, "f"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			v.umount()
			v.mount()
			got, err := os.ReadFile(filepath.Join(v.plain, "f"))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, %v; want the %d written", len(got), err, len(data))
			}
			fi, err := os.Stat(v.cipherPath("f"))
			if err != nil {
				t.Fatal(err)
			}
			if want := envelope.CiphertextSize(int64(len(data)), tc.chunk); fi.Size() != want {
				t.Errorf("ciphertext is %d bytes, want %d (chunks of %d)", fi.Size(), want, tc.chunk)
			}
		})
	}
}
