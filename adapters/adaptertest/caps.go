package adaptertest

import (
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// backend is the driver of a Target and what it declares: the one source
// of every skip in the suite.
type backend struct {
	// full is the Target as parsed, common options included: what the
	// facade is opened with.
	full herald.Config
	// cfg is full without the common options (adapters.SplitCommon):
	// what the facade hands the driver.
	cfg    herald.Config
	driver adapters.Driver
	caps   adapters.Capabilities
}

// resolve parses target, finds its driver with adapters.For (which
// validates the configuration) and asks it for its capabilities.
func resolve(t testing.TB, target string) backend {
	t.Helper()
	full, err := herald.ParseURL(target)
	if err != nil {
		t.Fatalf("adaptertest: bad Target %q: %v", target, err)
	}
	cfg, _, err := adapters.SplitCommon(full)
	if err != nil {
		t.Fatalf("adaptertest: Target %s: %v", full, err)
	}
	d, err := adapters.For(cfg)
	if err != nil {
		t.Fatalf("adaptertest: Target %s: %v", full, err)
	}
	return backend{full: full, cfg: cfg, driver: d, caps: d.Capabilities(cfg)}
}

// Capabilities returns what the driver registered for target's scheme
// declares for target: the values the suite skips by. It fails t when
// target does not parse, its scheme has no driver, or the driver refuses
// it.
func Capabilities(t testing.TB, target string) adapters.Capabilities {
	t.Helper()
	return resolve(t, target).caps
}

// require skips t, naming the capability, unless ok.
func require(t testing.TB, ok bool, capability string) {
	t.Helper()
	if !ok {
		t.Skip("the driver does not declare " + capability)
	}
}

// redeliveryName names r for skip messages and logs.
func redeliveryName(r adapters.Redelivery) string {
	if r == adapters.RedeliverBroker {
		return "RedeliverBroker"
	}
	return "RedeliverLocal"
}

// orderName names o for skip messages and logs.
func orderName(o adapters.OrderScope) string {
	switch o {
	case adapters.OrderKey:
		return "OrderKey"
	case adapters.OrderQueue:
		return "OrderQueue"
	}
	return "OrderNone"
}
