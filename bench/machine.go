package bench

import (
	"bufio"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
)

// Machine describes where benchmarks ran: numbers mean little without it
// (a benchmark figure means little without the CPU, kernel and Go version
// it was measured on).
type Machine struct {
	CPU        string `json:"cpu"`        // model name from /proc/cpuinfo, or "unknown"
	AES        bool   `json:"aes"`        // the CPU advertises AES instructions (Go's GCM is much slower without)
	NumCPU     int    `json:"num_cpu"`    // logical CPUs
	GOMAXPROCS int    `json:"gomaxprocs"` // CPUs that may seal chunks in parallel
	GoVersion  string `json:"go_version"` // runtime.Version()
	Platform   string `json:"platform"`   // GOOS/GOARCH
	Kernel     string `json:"kernel"`     // /proc/sys/kernel/osrelease, or "unknown"
}

// ReadMachine describes this machine. Files it cannot read leave their
// fields "unknown" or false: a report is still useful without them.
func ReadMachine() Machine {
	m := Machine{
		CPU:        "unknown",
		Kernel:     "unknown",
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.CPU, m.AES = parseCPUInfo(f)
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// parseCPUInfo returns the first CPU's model and whether it lists the
// "aes" feature, from /proc/cpuinfo text: x86 says "model name" and
// "flags", arm64 "Features" and sometimes "Model" or "Hardware".
func parseCPUInfo(r io.Reader) (model string, aes bool) {
	model = "unknown"
	found := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "model name", "Model", "Hardware":
			if !found && val != "" {
				model, found = val, true
			}
		case "flags", "Features":
			aes = aes || slices.Contains(strings.Fields(val), "aes")
		}
	}
	return model, aes
}
