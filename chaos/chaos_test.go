package chaos_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/chaos"
)

// TestMain lets this test binary be the harness's consumer process.
func TestMain(m *testing.M) {
	chaos.RunConsumerIfChild()
	os.Exit(m.Run())
}

// TestResetCaseLosesNothing runs one short case end to end (about 15 s):
// NATS behind the harness's proxy, which resets every connection five
// times under load, two consumer processes; no acked message may be lost.
func TestResetCaseLosesNothing(t *testing.T) {
	url := adaptertest.BrokerURL(t, "HERALD_TEST_NATS")
	var log bytes.Buffer
	rs := chaos.Run(chaos.Config{
		Exe: os.Args[0], Rate: 500, Keys: 16, Consumers: 2,
		Warmup: 2 * time.Second, After: 3 * time.Second, Drain: 60 * time.Second,
		PortBase: 16900, Shared: map[string]string{"nats": url}, Log: &log,
	}, []string{"nats"}, []string{chaos.CaseReset})
	var table strings.Builder
	if err := chaos.WriteTable(&table, rs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	r := rs[0]
	if r.Error != "" {
		t.Fatalf("case failed: %s\nlog:\n%s", r.Error, log.String())
	}
	if r.Acked < 1000 {
		t.Errorf("acked %d messages, want at least 1000 (500/s for 5 s and more)", r.Acked)
	}
	if r.Lost != 0 {
		t.Errorf("%d acked messages lost", r.Lost)
	}
	if r.ResumeSec < 0 {
		t.Errorf("consumption did not resume after the resets")
	}
	if !r.OK() {
		t.Errorf("result not OK: %+v", r)
	}
}
