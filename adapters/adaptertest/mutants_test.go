package adaptertest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// envMutant names the mutant TestMutantChild runs the suite on.
const envMutant = "HERALD_ADAPTERTEST_MUTANT"

// mutants: each is the memory bus with one fault or one declared
// capability, and the suite's tests that must fail on it (fail) or pass
// on it (pass), named as under TestMutantChild.
var mutants = map[string]struct {
	m          *mutant
	fail, pass []string
}{
	"done-twice": {m: &mutant{doneTwice: true}, fail: []string{"driver/SendAnswersEveryDoneOnce"}},
	"late-done":  {m: &mutant{lateDone: true}, fail: []string{"driver/CloseWaitsForAnswers", "driver/CloseAnswersPending"}},
	"untyped":    {m: &mutant{untypedClosed: true}, fail: []string{"driver/SendAfterCloseIsClosed"}},
	"ignore-ctx": {m: &mutant{ignoreCtx: true}, fail: []string{"driver/SendExpiredContext"}},
	"window":     {m: &mutant{wideWindow: true}, fail: []string{"driver/WindowBoundsUnsettled"}},
	"swap":       {m: &mutant{swap: true}, fail: []string{"driver/KeyOrder", "end-to-end/contract/OrderPerKey", "end-to-end/contract/RandomizedInvariant"}},
	"invalid":    {m: &mutant{invalid: true}, fail: []string{"driver/SentIsReceived"}},
	"counts": {m: &mutant{caps: func(c *adapters.Capabilities) { c.CountsAttempts = true }},
		fail: []string{"driver/SentIsReceived"}},
	"too-large": {m: &mutant{caps: func(c *adapters.Capabilities) { c.MaxMessageSize = 1024 }},
		fail: []string{"driver/TooLarge"}},
	"nack-delay-ignored": {m: &mutant{caps: func(c *adapters.Capabilities) { c.Redelivery, c.NackDelay = adapters.RedeliverBroker, true }},
		fail: []string{"driver/NackDelayHonoured"}},
	// The bus's Nack requeues at the head: a broker's redelivery.
	"broker": {m: &mutant{caps: func(c *adapters.Capabilities) { c.Redelivery = adapters.RedeliverBroker }},
		pass: []string{"driver/NackRedelivers", "end-to-end/contract/OrderPerKeyAcrossNack", "end-to-end/contract/HandlerErrorRedelivers",
			"end-to-end/contract/RandomizedInvariant"}},
	"durable": {m: &mutant{caps: func(c *adapters.Capabilities) { c.Durable = true }},
		pass: []string{"driver/AckedNotRedelivered", "driver/UnsettledRedeliveredAfterClose", "driver/PreparedGroupKeepsEarlyMessages",
			"end-to-end/contract/UnackedGoToNextSubscriber", "end-to-end/contract/PreparedGroupKeepsEarlyMessages", "end-to-end/contract/CloseDuringProcessingLosesNothing"}},
	"ack-dropped": {m: &mutant{dropAck: true, caps: func(c *adapters.Capabilities) { c.Durable = true }},
		fail: []string{"driver/AckedNotRedelivered"}},
	"close-acks": {m: &mutant{ackOnClose: true, caps: func(c *adapters.Capabilities) { c.Durable = true }},
		fail: []string{"driver/UnsettledRedeliveredAfterClose", "end-to-end/contract/UnackedGoToNextSubscriber"}},
	"nack-acks": {m: &mutant{ackOnNack: true, caps: func(c *adapters.Capabilities) { c.Redelivery = adapters.RedeliverBroker }},
		fail: []string{"driver/NackRedelivers", "end-to-end/contract/HandlerErrorRedelivers", "end-to-end/contract/OrderPerKeyAcrossNack",
			"end-to-end/contract/RandomizedInvariant"}},
	"fanout": {m: &mutant{fanout: true},
		fail: []string{"driver/GroupsShareAndEachGroupGetsAll", "end-to-end/contract/GroupsShareAndEachGroupGetsAll"}},
	"reply-dropped": {m: &mutant{dropReply: true}, fail: []string{"end-to-end/contract/RequestReply", "end-to-end/contract/RequestRemoteError"}},
	"reply-crossed": {m: &mutant{crossReply: true}, fail: []string{"end-to-end/contract/RequestConcurrent"}},
	// The bus fails fast; declaring it does not must fail the test.
	"fail-fast-undeclared": {m: &mutant{caps: func(c *adapters.Capabilities) { c.Request.FailFast = false }},
		fail: []string{"end-to-end/contract/RequestNoResponder"}},
	"nack-delay": {m: &mutant{holdNack: true, caps: func(c *adapters.Capabilities) { c.Redelivery, c.NackDelay = adapters.RedeliverBroker, true }},
		pass: []string{"driver/NackDelayHonoured", "end-to-end/contract/PermanentErrorDoesNotSpin"}},
}

// TestMutantChild runs both levels of the suite on the mutant named by
// HERALD_ADAPTERTEST_MUTANT; TestMutants runs it in a child process.
func TestMutantChild(t *testing.T) {
	name := os.Getenv(envMutant)
	if name == "" {
		t.Skip("run by TestMutants in a child process")
	}
	s := adaptertest.Suite{Target: "mutant://" + name, Wait: 3 * time.Second}
	t.Run("driver", func(t *testing.T) { adaptertest.RunDriver(t, s) })
	t.Run("end-to-end", func(t *testing.T) { adaptertest.Run(t, s) })
}

// TestMutants: each fault makes the suite's test that checks it fail, and
// each declared capability the memory bus is made to honour makes the
// tests it enables pass (not skip). Each test runs alone in a child
// process (this binary, -test.run), in parallel.
func TestMutants(t *testing.T) {
	if os.Getenv(envMutant) != "" {
		t.Skip("in a child")
	}
	for name, c := range mutants {
		for _, want := range [][]string{c.fail, c.pass} {
			for _, test := range want {
				wantFail := len(c.fail) > 0 && &want[0] == &c.fail[0]
				t.Run(name+"/"+test, func(t *testing.T) {
					t.Parallel() // most of a child's time is a wait running out
					out, err := runChild(t, name, test)
					line := "TestMutantChild/" + test + " "
					switch {
					case wantFail && (err == nil || !strings.Contains(out, "--- FAIL: "+line)):
						t.Errorf("with the fault %q, %s did not fail (%v):\n%s", name, test, err, out)
					case !wantFail && (err != nil || !strings.Contains(out, "--- PASS: "+line)):
						t.Errorf("with %q declared and honoured, %s did not pass (%v):\n%s", name, test, err, out)
					}
				})
			}
		}
	}
}

// mutantSeed is the plan RandomizedInvariant runs on the mutants: one
// whose batches bring a key's messages in one Receive (the swap mutant
// reorders them) and with handler failures (the nack-acks mutant loses
// them).
const mutantSeed = "3905340999245804538"

// runChild runs test of TestMutantChild on mutant name in a child
// process and returns its output.
func runChild(t *testing.T, name, test string) (string, error) {
	t.Helper()
	parts := append([]string{"TestMutantChild"}, strings.Split(test, "/")...)
	for i, p := range parts {
		parts[i] = "^" + p + "$"
	}
	cmd := exec.Command(os.Args[0], "-test.run", strings.Join(parts, "/"), "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), envMutant+"="+name, "HERALD_ADAPTERTEST_SEED="+mutantSeed)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
