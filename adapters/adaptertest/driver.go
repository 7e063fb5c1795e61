package adaptertest

import "testing"

// RunDriver runs the driver-level conformance tests against s: they call
// the adapters.Driver registered for s.Target's scheme directly
// (OpenTopic, OpenSubscription, Send, Receive, Ack, Nack, Valid, Close),
// with an adapters.Env whose Logger writes to the test, and check the
// contract documented in the adapters package. Tests of what the driver
// does not declare in its Capabilities are skipped, naming the
// capability. Every test runs in parallel on fresh topics and groups.
func RunDriver(t *testing.T, s Suite) {
	t.Helper()
	if s.Target == "" {
		t.Fatal("adaptertest: Suite.Target is empty")
	}
	b := resolve(t, s.Target)
	t.Logf("capabilities of %s: %+v (redelivery %s, order %s)", b.cfg, b.caps, redeliveryName(b.caps.Redelivery), orderName(b.caps.Order))
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *denv)
	}{
		{"SendAnswersEveryDoneOnce", testDriverSendAnswersOnce},
		{"SentIsReceived", testDriverSentIsReceived},
		{"SendAfterCloseIsClosed", testDriverSendAfterClose},
		{"CloseWaitsForAnswers", testDriverCloseWaits},
		{"CloseAnswersPending", testDriverCloseAnswersPending},
		{"SendExpiredContext", testDriverSendExpiredContext},
		{"TooLarge", testDriverTooLarge},
		{"WindowBoundsUnsettled", testDriverWindow},
		{"AckedNotRedelivered", testDriverAckedNotRedelivered},
		{"UnsettledRedeliveredAfterClose", testDriverUnsettledRedelivered},
		{"NackRedelivers", testDriverNackRedelivers},
		{"NackDelayHonoured", testDriverNackDelay},
		{"PreparedGroupKeepsEarlyMessages", testDriverPrepare},
		{"GroupsShareAndEachGroupGetsAll", testDriverGroups},
		{"PrivateGetsAll", testDriverPrivate},
		{"KeyOrder", testDriverKeyOrder},
		{"StreamClose", testDriverStreamClose},
		{"SubscriptionClose", testDriverSubscriptionClose},
		{"ReceiveHonoursContext", testDriverReceiveContext},
		{"AsRefusesUnknownTargets", testDriverAs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newDriverEnv(t, s))
		})
	}
}
