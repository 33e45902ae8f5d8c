package maintain_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kmsfs/kmsfs/internal/maintain"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		rel  string
		mode fs.FileMode
		want maintain.Kind
	}{
		{"kmsfs.conf", 0, maintain.KindOwn},
		{"sub/kmsfs.conf", 0, maintain.KindFile}, // only the root config is ours
		{"kmsfs.conf.tmp", 0, maintain.KindStray},
		{"sub/kmsfs.conf.tmp", 0, maintain.KindFile},
		{"kmsfs.diriv", 0, maintain.KindOwn},
		{"a/b/kmsfs.diriv", 0, maintain.KindOwn},
		{"kmsfs.long.abc.name", 0, maintain.KindOwn},
		{"kmsfs.long.abc", 0, maintain.KindFile}, // the long-named file itself
		{".kmsfs-rekey-0123456789abcdef.tmp", 0, maintain.KindStray},
		{"deep/.kmsfs-rekey-00.tmp", 0, maintain.KindStray},
		{".kmsfs-rekey-00", 0, maintain.KindFile},
		{"plain.txt", 0, maintain.KindFile},
		{"link", fs.ModeSymlink, maintain.KindSpecial},
		{"fifo", fs.ModeNamedPipe, maintain.KindSpecial},
		{"kmsfs.diriv", fs.ModeSymlink, maintain.KindOwn},
	} {
		if got := maintain.Classify(tc.rel, tc.mode); got != tc.want {
			t.Errorf("Classify(%q, %v) = %v, want %v", tc.rel, tc.mode, got, tc.want)
		}
	}
}

// TestWalk lists every non-directory entry once, in lexical order, with
// its kind, and stops on the callback's error.
func TestWalk(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{"b", "a/z", "a/y/x", "kmsfs.conf", "kmsfs.conf.tmp", "c/.kmsfs-rekey-1.tmp"} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("b", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := maintain.Walk(context.Background(), dir, func(e maintain.Entry) error {
		if e.Err != nil {
			t.Errorf("%s: %v", e.Rel, e.Err)
		}
		got = append(got, e.Rel+":"+e.Kind.String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/y/x:file", "a/z:file", "b:file", "c/.kmsfs-rekey-1.tmp:stray temporary file",
		"kmsfs.conf:kmsfs metadata", "kmsfs.conf.tmp:stray temporary file", "l:special file"}
	if !slices.Equal(got, want) {
		t.Errorf("Walk listed\n%q\nwant\n%q", got, want)
	}

	stop := errors.New("stop")
	n := 0
	err = maintain.Walk(context.Background(), dir, func(maintain.Entry) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Walk with a failing callback: %v after %d calls, want stop after 1", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := maintain.Walk(ctx, dir, func(maintain.Entry) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk with a cancelled context: %v", err)
	}
	if err := maintain.Walk(context.Background(), filepath.Join(dir, "missing"), func(maintain.Entry) error { return nil }); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Walk of a missing root: %v", err)
	}
}
