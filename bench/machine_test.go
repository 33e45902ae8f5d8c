package bench

import (
	"runtime"
	"strings"
	"testing"
)

func TestParseCPUInfo(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		model      string
		aes        bool
	}{
		{"x86", "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse2 aes avx2\n\nprocessor\t: 1\nmodel name\t: other\n",
			"AMD EPYC 7B13", true},
		{"x86 without AES-NI", "model name\t: Intel(R) Pentium(R) CPU G630\nflags\t\t: fpu sse2 aesx\n", "Intel(R) Pentium(R) CPU G630", false},
		{"arm64", "processor\t: 0\nFeatures\t: fp asimd aes pmull sha1\nCPU part\t: 0xd0c\n\nModel\t: Raspberry Pi 5\n", "Raspberry Pi 5", true},
		{"empty", "", "unknown", false},
		{"garbage", "no colon here\n:\n\x00\xff", "unknown", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			model, aes := parseCPUInfo(strings.NewReader(tc.text))
			if model != tc.model || aes != tc.aes {
				t.Errorf("parseCPUInfo = %q, %v; want %q, %v", model, aes, tc.model, tc.aes)
			}
		})
	}
}

func TestReadMachine(t *testing.T) {
	m := ReadMachine()
	if m.GoVersion != runtime.Version() || m.GOMAXPROCS < 1 || m.NumCPU < 1 || m.CPU == "" || m.Kernel == "" {
		t.Errorf("ReadMachine() = %+v", m)
	}
}
