package chaos

import (
	"fmt"
	"strconv"
)

// broker is a single broker of the harness's own, on its ports and
// directory, that a case may SIGKILL and start again.
type broker interface {
	// start starts the broker (again) and returns once clients can use it.
	start() error
	// kill SIGKILLs it.
	kill()
	// upstream is the address the proxy forwards to.
	upstream() string
	// url is the client URL for the proxy's address.
	url(proxyAddr string) string
}

// ports hands out 127.0.0.1 ports from base on.
type ports struct{ next int }

func (p *ports) take() int {
	n := p.next
	p.next++
	return n
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// newBroker makes (does not start) a private broker of kind in dir; the
// proxy in front of it listens on proxyPort (Kafka advertises it).
func newBroker(kind, dir string, pp *ports, proxyPort int) (broker, error) {
	switch kind {
	case "nats":
		return &natsBroker{dir: dir, port: pp.take()}, nil
	case "kafka":
		return &kafkaBroker{dir: dir, port: pp.take(), extPort: pp.take(), ctrlPort: pp.take(), advertised: proxyPort}, nil
	case "amqp":
		return &rabbitBroker{dir: dir, port: pp.take(), distPort: pp.take(), epmdPort: pp.take()}, nil
	}
	return nil, fmt.Errorf("broker %q: no private broker of that kind (allowed: kafka, amqp, nats)", kind)
}
