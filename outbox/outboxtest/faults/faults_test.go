package faults_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/heraldkit/herald/outbox/outboxtest/faults"
)

// TestMain lets this test binary be the suite's relay process.
func TestMain(m *testing.M) {
	faults.RunRelayIfChild()
	os.Exit(m.Run())
}

// TestFaultsShort runs the subset of make test (ShortConfig; about 45 s):
// relay processes SIGKILLed mid-batch and started again (PostgreSQL,
// SQLite), the private PostgreSQL stopped with pg_ctl -m immediate and
// started again, the private nats-server killed and started again, three
// relays on one table with kills, and rolled-back transactions among the
// committed. No committed message may be lost and no rolled-back one
// published; every case must have rolled back messages and caught up.
func TestFaultsShort(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the outbox fault suite starts servers of its own")
	}
	var missing []string
	if _, err := faults.PGBinDir(); err != nil {
		missing = append(missing, err.Error())
	}
	if _, err := faults.NATSServerBinary(); err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) > 0 {
		msg := strings.Join(missing, "; ")
		if os.Getenv("HERALD_REQUIRE_BROKERS") == "1" {
			t.Fatal(msg + " (HERALD_REQUIRE_BROKERS=1: missing binaries are a failure)")
		}
		t.Skip(msg)
	}
	c := faults.ShortConfig()
	var log bytes.Buffer
	c.Log = &log
	type run struct{ cases, dbs []string }
	var rs []faults.Result
	for _, r := range []run{
		{[]string{faults.CaseRelayKill, faults.CaseRollback}, []string{faults.PostgreSQL, faults.SQLite}},
		{[]string{faults.CaseDBRestart, faults.CaseBrokerDown, faults.CaseRelays3}, []string{faults.PostgreSQL}},
	} {
		rs = append(rs, faults.Run(c, r.cases, r.dbs)...)
	}
	var table strings.Builder
	if err := faults.WriteTable(&table, rs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	if len(rs) != 7 {
		t.Fatalf("%d results, want 7\nlog:\n%s", len(rs), log.String())
	}
	for _, r := range rs {
		name := r.Case + "/" + r.Database
		if r.Error != "" {
			t.Errorf("%s: %s", name, r.Error)
		}
		if r.Committed < 100 || r.RolledBack == 0 {
			t.Errorf("%s: %d committed, %d rolled back; want at least 100 and some", name, r.Committed, r.RolledBack)
		}
		if r.Lost != 0 {
			t.Errorf("%s: %d committed messages lost (e.g. %v)", name, r.Lost, r.LostIDs)
		}
		if r.RolledBackPublished != 0 {
			t.Errorf("%s: %d rolled-back messages published", name, r.RolledBackPublished)
		}
		if r.Unknown != 0 {
			t.Errorf("%s: %d deliveries of messages the case did not write", name, r.Unknown)
		}
		if r.CatchUpSec < 0 {
			t.Errorf("%s: never caught up", name)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", log.String())
	}
}
