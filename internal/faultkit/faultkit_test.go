package faultkit

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// A child's first "ready" closes Ready, its other lines reach the
// callback in order, and an exit the suite did not cause is an error
// naming the process and holding its stderr.
func TestChildLinesAndUnexpectedExit(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	p, err := StartChild("a test process", "sh", []string{"-c", "echo ready; echo 1; echo; echo ready; echo 2; echo boom >&2; exit 3"}, nil, func(l []byte) {
		mu.Lock()
		lines = append(lines, string(l))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Ready()
	<-p.Exited()
	if got := strings.Join(lines, ","); got != "1,ready,2" {
		t.Errorf("lines %q, want 1,ready,2 (the first ready taken, the empty line skipped)", got)
	}
	err = p.Check()
	if err == nil || !strings.Contains(err.Error(), "a test process exited: exit status 3: boom") {
		t.Errorf("Check: %v, want the exit and the stderr", err)
	}
}

// A process the suite killed or stopped is no error for Check; Stop
// reports a process that ignores SIGTERM and kills it.
func TestChildKillAndStop(t *testing.T) {
	p, err := StartChild("a test process", "sh", []string{"-c", "echo ready; exec sleep 60"}, nil, func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Ready()
	p.Kill()
	if err := p.Check(); err != nil {
		t.Errorf("Check after Kill: %v", err)
	}
	q, err := StartChild("a test process", "sh", []string{"-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}, nil, func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	<-q.Ready()
	err = q.Stop(300 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not stop within 300ms of SIGTERM") {
		t.Errorf("Stop: %v, want a hang reported", err)
	}
	if err := q.Check(); err != nil {
		t.Errorf("Check after Stop: %v", err)
	}
}

func TestFillConfig(t *testing.T) {
	type config struct {
		N, M  int
		D     time.Duration
		S     string
		Inner struct{ K int }
		Log   io.Writer
	}
	def := config{N: 1, M: 2, D: time.Second, S: "def"}
	def.Inner.K = 9
	c := config{M: 5, D: -1}
	exe := ""
	FillConfig(&c, def, &exe, &c.Log)
	if c.N != 1 || c.M != 5 || c.D != time.Second || c.S != "" || c.Inner.K != 0 {
		t.Errorf("filled %+v: want N 1, M 5 (set), D 1s, S and Inner as they were", c)
	}
	if exe == "" || c.Log == nil {
		t.Errorf("exe %q, log %v: want this executable and stderr", exe, c.Log)
	}
}

func TestTableNoteAndSplit(t *testing.T) {
	var b strings.Builder
	err := WriteTable(&b, "| a |\n|---|\n", []string{"x|y\nz", strings.Repeat("n", 200)}, func(s string) string { return "| " + Note(s) + " |" })
	if err != nil {
		t.Fatal(err)
	}
	want := "| a |\n|---|\n| x/y z |\n| " + strings.Repeat("n", 160) + "... |\n"
	if b.String() != want {
		t.Errorf("table\n%s\nwant\n%s", b.String(), want)
	}
	if got := strings.Join(Split(" a, ,b ,"), "|"); got != "a|b" {
		t.Errorf("Split: %q", got)
	}
}
