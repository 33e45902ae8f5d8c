package main

import (
	"os"
	"testing"

	"github.com/kmsfs/kmsfs/internal/testkeys"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kmsfs": func() {
			testOnlyKDF = testkeys.KDF
			os.Exit(run())
		},
	})
}

// TestScripts runs the command-line scenarios in testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("KMSFS_KEYRING", env.WorkDir+"/keyring")
			env.Setenv("KMSFS_PASSPHRASE", "correct horse")
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
	})
}
