package embedded_test

import (
	"testing"

	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/adapters/embedded"
	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// Issue 14 item 5 end to end: window 2, concurrency 1, 600ms handlers,
// ack_wait=1s: no message handled twice.
func TestE2ESlowHandlersNoDuplicates(t *testing.T) {
	natsxtest.E2ESlowHandlersNoDuplicates(t, target(t.TempDir(), ""), topic())
}

// Issue 14 item 10 end to end: the subscriber's redelivery delay is
// honoured by the server (NakWithDelay), and Attempt is its count.
func TestE2ENackDelay(t *testing.T) { natsxtest.E2ENackDelay(t, target(t.TempDir(), ""), topic()) }

// TestConformance runs the suite at the driver level and end to end on
// an embedded server of the test's own; Restart restarts it in place
// (same directory), which disturbs no other test.
func TestConformance(t *testing.T) {
	dir := t.TempDir()
	keep := fixture(dir, "").OpenTopic(t, "") // keeps the server up between tests
	_ = keep
	s := adaptertest.Suite{
		Target:             target(dir, ""),
		CrashTarget:        target(dir, "ack_wait=3s"),
		SharedStreamTarget: target(dir, "stream=ALL"),
		Restart: func(t *testing.T) {
			if err := embedded.Restart(dir); err != nil {
				t.Fatal(err)
			}
		},
	}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}

// TestDelayOnExistingStream: see natsxtest.DelayOnExistingStream.
func TestDelayOnExistingStream(t *testing.T) { natsxtest.DelayOnExistingStream(t, serverFixture(t)) }

// TestDelayOnInterestStream: see natsxtest.DelayOnInterestStream.
func TestDelayOnInterestStream(t *testing.T) { natsxtest.DelayOnInterestStream(t, serverFixture(t)) }

// TestDelayAfterStreamRecreated: see natsxtest.DelayAfterStreamRecreated.
func TestDelayAfterStreamRecreated(t *testing.T) {
	natsxtest.DelayAfterStreamRecreated(t, serverFixture(t))
}
