package session

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A mount that reaches its keyring through another process's socket
// depends on that process: if it exited with its own mount, every later
// open in the dependent mount would fail. So each dependent leaves a marker
// file, "dep-<pid>", in the keyring's control directory while it runs, and
// an owner whose own mount ends keeps serving the keyring until no live
// dependent is left.

const dependentPrefix = "dep-"

// dependentPoll is how often an owner whose mount ended looks for live
// dependents.
var dependentPoll = 2 * time.Second

// registerDependent marks this process as depending on the owner of the
// keyring in keyringDir; release removes the mark.
func registerDependent(keyringDir string) (release func() error, err error) {
	dir := ControlSocketDir(keyringDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	path := filepath.Join(dir, dependentPrefix+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return func() error {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}, nil
}

// Dependents returns the process IDs of the live mounts (other than this
// process) that reach the keyring in keyringDir through its owner. Marks
// left by processes that died (kill -9) are removed.
func Dependents(keyringDir string) ([]int, error) {
	dir := ControlSocketDir(keyringDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), dependentPrefix))
		if !strings.HasPrefix(e.Name(), dependentPrefix) || err != nil || pid == os.Getpid() {
			continue
		}
		if !alive(pid) {
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// alive reports whether process pid exists (signal 0 checks without
// sending anything; EPERM means it exists under another user).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ServeWhileDependents returns at once (or when ctx ends) unless k is the keyring's owner and
// other mounts depend on it; then it keeps serving until none is left, so
// that unmounting the first mount of a keyring never breaks the others.
func (k *Keyring) ServeWhileDependents(ctx context.Context, logger *slog.Logger) {
	if k.owned == nil {
		return
	}
	logged := false
	for {
		pids, err := Dependents(k.dir)
		if err != nil {
			logger.Warn("cannot list the mounts that use this keyring; stopping", "err", err)
			return
		}
		if len(pids) == 0 {
			return
		}
		if !logged {
			logger.Info("mount ended; still serving the keyring for other mounts", "pids", pids)
			logged = true
		}
		select {
		case <-ctx.Done():
			logger.Info("stopping; mounts that used this keyring through this process lose it", "pids", pids)
			return
		case <-time.After(dependentPoll):
		}
	}
}
