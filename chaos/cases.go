package chaos

import (
	"fmt"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// Cases, by name.
const (
	CaseBrokerKill   = "broker-kill"   // the single broker SIGKILLed, restarted
	CaseBlackhole    = "blackhole"     // the proxy drops every byte for Cut
	CaseReset        = "reset"         // the proxy resets every connection, 5 times 2 s apart
	CaseConsumerKill = "consumer-kill" // one of the consumer processes SIGKILLed
	CaseConsumerStop = "consumer-stop" // one of the consumer processes stopped cleanly (SIGTERM)
	CaseNodeKill     = "node-kill"     // a cluster node SIGKILLed, restarted
)

// AllCases lists the cases in the order the suite runs them.
var AllCases = []string{CaseConsumerKill, CaseConsumerStop, CaseReset, CaseBlackhole, CaseBrokerKill, CaseNodeKill}

// fault applies case name to target and returns when the fault is over,
// with the moment from which first and resume are measured: the broker
// ready again, the proxy forwarding again, the consumer killed or told to
// stop, the cluster node killed.
func fault(name string, c *Config, tg *target, procs []*faultkit.Child, topic, group string) (time.Time, error) {
	switch name {
	case CaseConsumerKill:
		procs[len(procs)/2].Kill()
		return time.Now(), nil
	case CaseConsumerStop:
		at := time.Now()
		_ = procs[len(procs)/2].Stop(15 * time.Second)
		return at, nil
	case CaseBrokerKill:
		if tg.broker == nil {
			return time.Time{}, fmt.Errorf("%s needs a broker of the harness's own", name)
		}
		tg.broker.kill()
		c.logf("%s: broker killed, starting it again", tg.kind)
		if err := tg.broker.start(); err != nil {
			return time.Time{}, fmt.Errorf("restart the broker: %w", err)
		}
		return time.Now(), nil
	case CaseBlackhole:
		tg.proxy.Blackhole()
		time.Sleep(c.Cut)
		tg.proxy.Up()
		return time.Now(), nil
	case CaseReset:
		for i := 0; i < 5; i++ {
			if i > 0 {
				time.Sleep(2 * time.Second)
			}
			tg.proxy.Reset()
		}
		return time.Now(), nil
	case CaseNodeKill:
		return nodeKill(c, tg, topic, group)
	}
	return time.Time{}, fmt.Errorf("case %q: unknown (allowed: %v)", name, AllCases)
}

// needs tells what a case needs of its target.
func needs(name, kind string) (private, proxy bool) {
	switch name {
	case CaseBrokerKill:
		return true, true
	case CaseBlackhole, CaseReset:
		return kind == "kafka", true // Kafka behind a proxy needs a broker advertising it
	}
	return false, false
}
