package nats_test

import (
	"context"
	"os"
	"testing"

	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/adapters/internal/natsx"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// TestConformance runs the suite at the driver level and end to end on
// JetStream (the default mode); what it checks follows the driver's
// Capabilities.
func TestConformance(t *testing.T) {
	s := adaptertest.Suite{
		Target: brokerURL(t),
		// A killed subscriber's messages come back after ack_wait.
		CrashTarget:        withQuery(brokerURL(t), "ack_wait=3s"),
		SharedStreamTarget: withQuery(brokerURL(t), "stream=herald_conformance_shared&storage=memory"),
		Cleanup:            deleteTopicStreams(brokerURL(t)),
	}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}

// deleteTopicStreams is a Suite.Cleanup for JetStream at u: it deletes
// the streams Herald made for the topics and their dead-letter topics (a
// group is a consumer in them, deleted with them).
func deleteTopicStreams(u string) func(ctx context.Context, topics, groups []string) error {
	return func(ctx context.Context, topics, _ []string) error {
		var names []string
		for _, tp := range topics {
			names = append(names, natsx.StreamName(tp), natsx.StreamName(tp+".dlq"))
		}
		return natsxtest.DeleteStreams(ctx, u, names...)
	}
}

// TestConformanceCore runs the suite on core NATS: at most once, so not
// durable and no redelivery by the server.
func TestConformanceCore(t *testing.T) {
	s := adaptertest.Suite{Target: withQuery(brokerURL(t), "mode=core")}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}

// TestConformanceRestart runs the end-to-end suite, broker restart
// included, on a private server the test stops and starts again (same
// port, same store): the shared broker is not restarted. The suite's
// crash test runs this test again in a child process, which uses the
// parent's server (privateURLEnv).
func TestConformanceRestart(t *testing.T) {
	if !adaptertest.RestartEnabled() {
		t.Skip("restart tests run in their own phase: HERALD_TEST_RESTART=1 (scripts/test.sh does this)")
	}
	u := os.Getenv(privateURLEnv)
	restart := func(t *testing.T) { t.Fatal("the child process does not restart the server") }
	if u == "" {
		opts := serverOptions()
		opts.MaxPayload = 8 << 20 // the suite sends 1 MiB payloads
		ps := newPrivateServer(t, opts)
		u = ps.URL()
		restart = func(*testing.T) { ps.Stop(); ps.Start() }
		os.Setenv(privateURLEnv, u)
		t.Cleanup(func() { os.Unsetenv(privateURLEnv) })
	}
	s := adaptertest.Suite{
		Target:      withQuery(u, "reconnect_wait=100ms"),
		CrashTarget: withQuery(u, "reconnect_wait=100ms&ack_wait=3s"),
		Restart:     restart,
	}
	adaptertest.Run(t, s)
}

// privateURLEnv passes the URL of TestConformanceRestart's server to its
// child process.
const privateURLEnv = "HERALD_TEST_NATS_PRIVATE"
