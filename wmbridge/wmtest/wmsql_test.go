package wmtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/wmbridge"
)

func init() { wmbridge.Register("wmsql", PostgreSQL()) }

// wmsqlTarget is HERALD_TEST_POSTGRES (postgres://...) with the wmsql
// scheme and a short poll interval: the same database, reached through
// watermill-sql.
func wmsqlTarget(t *testing.T) string {
	u := brokerURL(t, "HERALD_TEST_POSTGRES")
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		t.Fatalf("HERALD_TEST_POSTGRES=%q is not a URL", u)
	}
	return withOption("wmsql://"+rest, "poll_interval=20ms")
}

// TestWMSQLConformance runs Herald's conformance suite on watermill-sql
// (PostgreSQL) through wmbridge, as far as its declared capabilities go.
func TestWMSQLConformance(t *testing.T) {
	t.Parallel()
	s := adaptertest.Suite{Target: wmsqlTarget(t), Wait: 60 * time.Second}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}

// TestMissingPostgreSQL: without HERALD_TEST_POSTGRES the PostgreSQL
// tests skip with a hint, and fail under HERALD_REQUIRE_BROKERS=1 (CI).
// It runs this test binary again on TestWMSQLConformance.
func TestMissingPostgreSQL(t *testing.T) {
	if os.Getenv("WMTEST_CHILD") == "1" {
		t.Skip("child run")
	}
	run := func(require string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWMSQLConformance$", "-test.v")
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "HERALD_TEST_POSTGRES=") && !strings.HasPrefix(kv, "HERALD_REQUIRE_BROKERS=") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "WMTEST_CHILD=1", "HERALD_REQUIRE_BROKERS="+require)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil || !strings.Contains(out, "--- SKIP: TestWMSQLConformance") || !strings.Contains(out, "scripts/brokers.sh up") {
		t.Errorf("without HERALD_TEST_POSTGRES: want a skip with a hint, got err %v:\n%s", err, out)
	}
	out, err = run("1")
	if err == nil || !strings.Contains(out, "--- FAIL: TestWMSQLConformance") || !strings.Contains(out, "HERALD_REQUIRE_BROKERS=1") {
		t.Errorf("without HERALD_TEST_POSTGRES under HERALD_REQUIRE_BROKERS=1: want a failure, got err %v:\n%s", err, out)
	}
}
