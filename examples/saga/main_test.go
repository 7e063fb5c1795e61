package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

func TestSagaEmbedded(t *testing.T) { testSaga(t, "embedded://"+t.TempDir()) }

func TestSagaNATS(t *testing.T) { testSaga(t, adaptertest.BrokerURL(t, "HERALD_TEST_NATS")) }

// testSaga runs 12 orders, every 4th with a declined card, with every step
// failing once right after its effect, and checks the final states, the
// stock, and that no effect ran twice although every step was redelivered.
func testSaga(t *testing.T, target string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	args := []string{"-target", target, "-prefix", "saga-" + herald.NewID(), "-orders", "12", "-order-prefix", "order", "-decline-every", "4",
		"-fail-once", "-metrics", "127.0.0.1:0", "-scrape", "-timeout", "45s"}
	if err := run(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	got := out.String()
	defer func() {
		if t.Failed() {
			t.Logf("stdout:\n%s", got)
		}
	}()
	stock := 1000
	for i := 1; i <= 12; i++ {
		id := fmt.Sprintf("order-%d", i)
		final := fmt.Sprintf("orders: %s confirmed (payment pay-%s)", id, id)
		if i%4 == 0 {
			final = fmt.Sprintf("orders: %s cancelled (card declined, reservation res-%s released)", id, id)
			once(t, got, fmt.Sprintf("inventory: released res-%s (%d x sku-widget back in stock)", id, i))
		} else {
			stock -= i
		}
		once(t, got, final)
		once(t, got, fmt.Sprintf("inventory: reserved %d x sku-widget for %s as res-%s", i, id, id))
	}
	once(t, got, "summary: 9 confirmed, 3 cancelled")
	once(t, got, fmt.Sprintf("summary: sku-widget stock 1000 -> %d, 9 reservation(s) held for confirmed orders", stock))

	// Each effect ran once per order; each step was redelivered (the
	// injected failure) and found already applied.
	for step, n := range map[string]int{"reserve": 12, "charge": 12, "confirm": 9, "release": 3, "cancel": 3} {
		if v := series(t, got, `saga_steps_total{result="applied",step="`+step+`"}`); v != n {
			t.Errorf("%s applied %d times, want %d", step, v, n)
		}
		if v := series(t, got, `saga_steps_total{result="duplicate",step="`+step+`"}`); v < n {
			t.Errorf("%s: %d redeliveries found it applied, want at least %d (one per injected failure)", step, v, n)
		}
	}
	if v := series(t, got, `saga_orders_total{state="cancelled"}`); v != 3 {
		t.Errorf("saga_orders_total cancelled = %d, want 3", v)
	}
	if !strings.Contains(got, `herald_messages_consumed_total{`) {
		t.Error("/metrics lacks Herald's herald_messages_consumed_total")
	}
}

// once asserts line occurs exactly once in out.
func once(t *testing.T, out, line string) {
	t.Helper()
	if n := strings.Count(out, line+"\n"); n != 1 {
		t.Errorf("%q printed %d times, want once", line, n)
	}
}

// series returns the value of the metric line starting with name.
func series(t *testing.T, out, name string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Errorf("no series %s", name)
		return -1
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

func TestLedgerRunsEachStepOnce(t *testing.T) {
	l := NewLedger()
	var runs atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make(chan bool, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, applied, err := l.Once("o1", "reserve", func() (string, error) {
				runs.Add(1)
				<-release // the other deliveries arrive while the effect runs
				return "res-o1", nil
			})
			if err != nil || r != "res-o1" {
				t.Errorf("Once = %q, %v", r, err)
			}
			results <- applied
		}()
	}
	close(release)
	wg.Wait()
	close(results)
	applied := 0
	for a := range results {
		if a {
			applied++
		}
	}
	if runs.Load() != 1 || applied != 1 {
		t.Errorf("effect ran %d times, applied reported %d times; want 1 and 1", runs.Load(), applied)
	}
}

func TestLedgerRetriesAFailedEffect(t *testing.T) {
	l := NewLedger()
	if _, applied, err := l.Once("o1", "charge", func() (string, error) { return "", errors.New("gateway down") }); err == nil || applied {
		t.Fatalf("failed effect: applied %v, err %v", applied, err)
	}
	r, applied, err := l.Once("o1", "charge", func() (string, error) { return "pay-o1", nil })
	if err != nil || !applied || r != "pay-o1" {
		t.Fatalf("second attempt = %q, %v, %v; want it applied", r, applied, err)
	}
	if _, applied, _ := l.Once("o1", "charge", func() (string, error) { return "again", nil }); applied {
		t.Error("a recorded step ran again")
	}
}
