package benchkit

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command with a space and a parenthesis, as /proc shows it.
	line := []byte("4242 (beam (smp) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 30 0 1000 0 0")
	got, ok := parseStatCPU(line)
	if !ok || got != 3250*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v; want 3.25s (325 ticks)", got, ok)
	}
	if _, ok := parseStatCPU([]byte("garbage")); ok {
		t.Error("parseStatCPU accepted a line without a command")
	}
}

func TestPidCPUOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	before, ok := pidCPU(os.Getpid())
	if !ok {
		t.Fatal("pidCPU(own pid) failed where /proc exists")
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if now, _ := pidCPU(os.Getpid()); now > before {
			if processCPU() <= 0 {
				t.Error("processCPU is 0 after burning CPU")
			}
			return
		}
		for i := 0; i < 1e6; i++ { // burn CPU until a tick passes
			_ = i * i
		}
	}
	t.Error("pidCPU of this process did not grow while it burned CPU for 5s")
}

func TestPidCPUUnknown(t *testing.T) {
	if _, ok := pidCPU(0); ok {
		t.Error("pid 0 measured")
	}
	if _, ok := pidCPU(1 << 30); ok {
		t.Error("a pid that cannot exist measured")
	}
}
