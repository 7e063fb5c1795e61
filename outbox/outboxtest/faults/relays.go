package faults

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// relayProc is one relay process.
type relayProc struct {
	*faultkit.Child
	handed faultkit.Signal // signalled whenever the relay handed a message to the broker
}

// startRelay starts a relay process (exe with args, this binary run
// again) and waits until it runs.
func startRelay(exe string, args []string, c relayConfig, wait time.Duration) (*relayProc, error) {
	js, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	handed := faultkit.NewSignal()
	ch, err := faultkit.StartChild("a relay process", exe, args, []string{envRelay + "=" + string(js)}, func(line []byte) {
		if string(line) == "p" {
			handed.Notify()
		}
	})
	if err != nil {
		return nil, err
	}
	p := &relayProc{Child: ch, handed: handed}
	select {
	case <-p.Ready():
		return p, nil
	case <-p.Exited():
		return nil, fmt.Errorf("a relay process exited before it ran: %v: %s", p.Err(), p.Stderr())
	case <-time.After(wait):
		p.Kill()
		return nil, fmt.Errorf("a relay process not running after %v: %s", wait, p.Stderr())
	}
}
