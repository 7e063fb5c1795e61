package adaptertest

import (
	"os"
	"testing"
)

// Run runs the conformance suite against s. Independent tests run in
// parallel on fresh topics and groups; the broker-restart test, when
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
			{"ConcurrentPublishers", testConcurrentPublishers},
			{"CloseDuringProcessingLosesNothing", testCloseDuringProcessing},
			{"CancelEndsSubscribe", testCancelEndsSubscribe},
			{"AfterClose", testAfterClose},
			{"AdapterAfterClose", testAdapterAfterClose},
			{"DeadLetter", testDeadLetter},
			{"DeadLetterSharedStream", testDeadLetterSharedStream},
			{"SameIDOnTwoTopics", testSameIDOnTwoTopics},
			{"SameIDOnTwoTopicsSharedStream", testSameIDOnTwoTopicsSharedStream},
			{"DerivedNamesAreInjective", testDerivedNamesAreInjective},
			{"PermanentErrorDoesNotSpin", testPermanentErrorDoesNotSpin},
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
	}
}

// RestartEnabled reports whether tests that restart a broker may run
// (HERALD_TEST_RESTART=1, and not go test -short). A restart cuts off every
// client of that broker, so scripts/test.sh runs these tests after the
// others, one package at a time; adapters' own restart tests should check
// it too. Call it from a test (it reads the -short flag).
func RestartEnabled() bool { return os.Getenv("HERALD_TEST_RESTART") == "1" && !testing.Short() }
