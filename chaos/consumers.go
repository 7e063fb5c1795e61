package chaos

import (
	"fmt"
	"strconv"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// startConsumers starts n consumer processes (exe with args, the harness
// binary re-executed) in group on topic, counting their deliveries into
// t, and waits until each is subscribed.
func startConsumers(exe string, args []string, n int, url, topic, group string, t *tally, wait time.Duration) ([]*faultkit.Child, error) {
	var procs []*faultkit.Child
	for i := 0; i < n; i++ {
		p, err := startConsumer(exe, args, url, topic, group, t)
		if err != nil {
			stopConsumers(procs)
			return nil, err
		}
		procs = append(procs, p)
	}
	deadline := time.After(wait)
	for i, p := range procs {
		select {
		case <-p.Ready():
		case <-p.Exited():
			stopConsumers(procs)
			return nil, fmt.Errorf("consumer %d exited before it was subscribed: %v: %s", i, p.Err(), p.Stderr())
		case <-deadline:
			stopConsumers(procs)
			return nil, fmt.Errorf("consumer %d not subscribed within %v: %s", i, wait, p.Stderr())
		}
	}
	return procs, nil
}

// startConsumer starts a consumer process; each line it writes is the ID
// of a message it got.
func startConsumer(exe string, args []string, url, topic, group string, t *tally) (*faultkit.Child, error) {
	env := []string{envChild + "=1", envURL + "=" + url, envTopic + "=" + topic, envGroup + "=" + group}
	return faultkit.StartChild("a consumer process", exe, args, env, func(line []byte) {
		if seq, err := strconv.Atoi(string(line)); err == nil {
			t.delivered(seq, time.Now())
		} else {
			t.delivered(-1, time.Now())
		}
	})
}

// stopConsumers ends each process with SIGTERM (a clean shutdown: Herald's
// subscriber drains and leaves the group), then SIGKILL after 15 s.
func stopConsumers(procs []*faultkit.Child) { faultkit.StopAll(procs, 15*time.Second) }
