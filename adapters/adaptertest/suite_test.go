package adaptertest

import (
	"flag"
	"testing"
)

// setShort sets the -short flag for the rest of the test.
func setShort(t *testing.T, on bool) {
	t.Helper()
	old := flag.Lookup("test.short").Value.String()
	v := "false"
	if on {
		v = "true"
	}
	if err := flag.Set("test.short", v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set("test.short", old) })
}

// TestBrokerURLSkipsUnderShort: with -short a broker test is skipped even
// when its broker variable is set (make test-short must not touch
// brokers); without -short the URL is returned.
func TestBrokerURLSkipsUnderShort(t *testing.T) {
	const env = "HERALD_TEST_ADAPTERTEST_SELFTEST"
	t.Setenv(env, "nats://127.0.0.1:1")
	t.Setenv("HERALD_REQUIRE_BROKERS", "1")
	setShort(t, true)
	got := ""
	ran := t.Run("short", func(t *testing.T) { got = BrokerURL(t, env) })
	if !ran || got != "" {
		t.Errorf("under -short BrokerURL returned %q (subtest passed: %v); want the test skipped", got, ran)
	}
	setShort(t, false)
	t.Run("long", func(t *testing.T) {
		if got := BrokerURL(t, env); got != "nats://127.0.0.1:1" {
			t.Errorf("BrokerURL = %q; want the variable's value", got)
		}
	})
	t.Setenv("HERALD_TEST_RESTART", "")
	if RestartEnabled() {
		t.Error("RestartEnabled without HERALD_TEST_RESTART=1")
	}
	t.Setenv("HERALD_TEST_RESTART", "1")
	setShort(t, true)
	if RestartEnabled() {
		t.Error("RestartEnabled under -short; want false")
	}
}
