package adaptertest

import "testing"

// Run runs the end-to-end conformance tests against s: through
// publisher.OpenConfig and subscriber.OpenConfig, as an application does.
// Tests of what the driver of s.Target does not declare in its
// Capabilities are skipped, naming the capability. Independent tests run
// in parallel on fresh topics and groups; the broker-restart test, when
// s.Restart is set, runs last and alone.
func Run(t *testing.T, s Suite) {
	t.Helper()
	if s.Target == "" {
		t.Fatal("adaptertest: Suite.Target is empty")
	}
	t.Run("contract", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T, *env)
		}{
			{"RoundTrip", testRoundTrip},
			{"ManyTopics", testManyTopics},
			{"OneSubscriberManyTopics", testOneSubscriberManyTopics},
			{"HandlerErrorRedelivers", testHandlerErrorRedelivers},
			{"PanicIsAnError", testPanicIsAnError},
			{"UnackedGoToNextSubscriber", testUnackedGoToNextSubscriber},
			{"PreparedGroupKeepsEarlyMessages", testPreparedGroupKeepsEarlyMessages},
			{"SubscriberCrashLosesNothing", testSubscriberCrash},
			{"GroupsShareAndEachGroupGetsAll", testGroups},
			{"NoGroupEveryoneGetsAll", testNoGroup},
			{"ConcurrencyBounded", testConcurrency},
			{"OrderPerKey", testOrderPerKey},
			{"OrderPerKeyConcurrent", testOrderPerKeyConcurrent},
			{"OrderPerKeyAcrossNack", testOrderPerKeyAcrossNack},
			{"ConcurrentPublishers", testConcurrentPublishers},
			{"CloseDuringProcessingLosesNothing", testCloseDuringProcessing},
			{"CancelEndsSubscribe", testCancelEndsSubscribe},
			{"AfterClose", testAfterClose},
			{"DeadLetter", testDeadLetter},
			{"DeadLetterSharedStream", testDeadLetterSharedStream},
			{"SameIDOnTwoTopics", testSameIDOnTwoTopics},
			{"SameIDOnTwoTopicsSharedStream", testSameIDOnTwoTopicsSharedStream},
			{"DerivedNamesAreInjective", testDerivedNamesAreInjective},
			{"PermanentErrorDoesNotSpin", testPermanentErrorDoesNotSpin},
			{"RandomizedInvariant", testInvariant},
			{"DelayNotBeforeNotMuchAfter", testDelayNotBeforeNotMuchAfter},
			{"DelayOrder", testDelayOrder},
			{"DelayRefused", testDelayRefused},
			{"Properties", testProperties},
			{"RequestReply", testRequestReply},
			{"RequestConcurrent", testRequestConcurrent},
			{"RequestTimeout", testRequestTimeout},
			{"RequestNoResponder", testRequestNoResponder},
			{"RequestRemoteError", testRequestRemoteError},
			{"RequestExpiredDropped", testRequestExpiredDropped},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, newEnv(t, s))
			})
		}
	})
	if s.Restart != nil {
		t.Run("BrokerRestartLosesNothing", func(t *testing.T) {
			if !RestartEnabled() {
				t.Skip("broker restarts run in their own phase, one package at a time: HERALD_TEST_RESTART=1 (scripts/test.sh does this)")
			}
			testRestart(t, newEnv(t, s))
		})
		t.Run("DelayedSurvivesBrokerRestart", func(t *testing.T) {
			if !RestartEnabled() {
				t.Skip("broker restarts run in their own phase, one package at a time: HERALD_TEST_RESTART=1 (scripts/test.sh does this)")
			}
			testDelayRestart(t, newEnv(t, s))
		})
	}
}
