package chaos

import (
	"errors"
	"testing"
	"time"
)

func TestFiguresCountLostDuplicatesAndResume(t *testing.T) {
	tl := newTally()
	for seq := 0; seq < 6; seq++ {
		tl.send(seq, seq%2)
	}
	tl.result(0, nil)
	tl.result(1, nil)
	tl.result(2, errors.New("broker unreachable"))
	tl.result(3, nil) // never delivered: lost
	tl.result(4, nil)
	tl.result(5, nil)
	recovered := time.Now()
	time.Sleep(time.Millisecond)
	tl.send(6, 0) // sent after the recovery, keys 0 and 1
	tl.send(7, 1)
	tl.result(6, nil)
	tl.result(7, nil)
	now := recovered.Add(-time.Millisecond) // the old messages came before the recovery
	tl.delivered(0, now)
	tl.delivered(0, now) // duplicate
	tl.delivered(1, now)
	tl.delivered(2, now) // delivered though Publish failed
	tl.delivered(4, now)
	tl.delivered(5, now)
	tl.delivered(6, recovered.Add(time.Second))
	tl.delivered(7, recovered.Add(3*time.Second))
	tl.delivered(99, now) // not sent by the case
	f := tl.figures(recovered)
	want := Figures{Sent: 8, Acked: 7, PubErrors: 1, Consumed: 7, Lost: 1, Duplicates: 1, Unacked: 1, Unknown: 1}
	got := f
	got.ResumeSec, got.FirstSec, got.MaxDelay, got.LastError = 0, 0, 0, ""
	if got != want {
		t.Errorf("figures %+v, want %+v", got, want)
	}
	if f.ResumeSec < 2.9 || f.ResumeSec > 3.1 {
		t.Errorf("resume %.2fs, want 3s (the last key's first delivery after the recovery)", f.ResumeSec)
	}
	if f.FirstSec < 0.9 || f.FirstSec > 1.1 {
		t.Errorf("first %.2fs, want 1s (the first delivery after the recovery)", f.FirstSec)
	}
	if f.LastError != "broker unreachable" {
		t.Errorf("last error %q", f.LastError)
	}
	if n := tl.missing(); n != 1 {
		t.Errorf("missing %d, want 1", n)
	}
}

func TestResumeUnknownWhenAKeyNeverFlows(t *testing.T) {
	tl := newTally()
	recovered := time.Now().Add(-time.Millisecond)
	tl.send(0, 0)
	tl.send(1, 1)
	tl.result(0, nil)
	tl.result(1, nil)
	tl.delivered(0, time.Now())
	if f := tl.figures(recovered); f.ResumeSec != -1 || f.Lost != 1 {
		t.Errorf("resume %.1f lost %d, want -1 and 1", f.ResumeSec, f.Lost)
	}
}
