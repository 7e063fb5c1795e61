package benchkit

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command with a space and a parenthesis, as /proc shows it.
	line := []byte("4242 (beam (smp) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 30 0 1000 0 0")
	st, ok := parseStat(line)
	got := st.cpu
	if !ok || got != 3250*time.Millisecond {
		t.Errorf("parseStat = %v, %v; want 3.25s (325 ticks)", got, ok)
	}
	if _, ok := parseStat([]byte("garbage")); ok {
		t.Error("parseStat accepted a line without a command")
	}
}

func TestPidCPUOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	before, ok := PIDCPU(os.Getpid())
	if !ok {
		t.Fatal("PIDCPU(own pid) failed where /proc exists")
	}
	if tree, ok := TreeCPU(os.Getpid()); !ok || tree < before {
		t.Errorf("TreeCPU(own pid) = %v, %v; the process alone used %v: the tree counts at least the process", tree, ok, before)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if now, _ := PIDCPU(os.Getpid()); now > before {
			if ProcessCPU() <= 0 {
				t.Error("ProcessCPU is 0 after burning CPU")
			}
			return
		}
		for i := 0; i < 1e6; i++ { // burn CPU until a tick passes
			_ = i * i
		}
	}
	t.Error("PIDCPU of this process did not grow while it burned CPU for 5s")
}

func TestPidCPUUnknown(t *testing.T) {
	if _, ok := PIDCPU(0); ok {
		t.Error("pid 0 measured")
	}
	if _, ok := PIDCPU(1 << 30); ok {
		t.Error("a pid that cannot exist measured")
	}
	if _, ok := TreeCPU(0); ok {
		t.Error("TreeCPU(0) measured")
	}
}

func TestParseStat(t *testing.T) {
	line := []byte("42 (post master) S 7 42 42 0 -1 4194560 100 0 0 0 300 25 40 2 20 0 1 0 100 1000 10")
	st, ok := parseStat(line)
	if !ok || st.ppid != 7 || st.cpu != 3250*time.Millisecond || st.children != 420*time.Millisecond {
		t.Errorf("parseStat = %+v, %v; want ppid 7, cpu 3.25s, children 0.42s", st, ok)
	}
	if _, ok := parseStat([]byte("42 (x) S 7")); ok {
		t.Error("parseStat accepted a short line")
	}
}
