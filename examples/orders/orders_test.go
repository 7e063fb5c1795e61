package orders

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
)

// TestPaymentTakeover runs the example as separate processes, 1 order
// service, 3 payment processes in one group and 1 audit process, kills one
// payment process with SIGKILL while orders are still coming, and checks
// that every order was paid exactly once (the payments table, written
// through the inbox), that the others took the killed one's work over, and
// that audit saw every order; on each broker with SQLite and with
// PostgreSQL (HERALD_TEST_POSTGRES).
func TestPaymentTakeover(t *testing.T) {
	bins := build(t)
	targets := map[string]func(t *testing.T) string{
		// The embedded default shared by processes, as `herald serve` does;
		// a short ack_wait hands a dead process's messages on quickly.
		"embedded": func(t *testing.T) string { return "nats://" + startNATS(t) + "?ack_wait=2s" },
		// A short session timeout moves a dead member's partitions quickly.
		"kafka": func(t *testing.T) string {
			return withOption(adaptertest.BrokerURL(t, "HERALD_TEST_KAFKA"), "session_timeout=6s")
		},
	}
	for _, name := range []string{"embedded", "kafka"} {
		for _, d := range databases() {
			t.Run(name+"/"+d.name, func(t *testing.T) {
				target := targets[name](t)
				takeover(t, bins, target, d.open(t))
			})
		}
	}
}

// withOption adds a query option to a target URL.
func withOption(target, opt string) string {
	if strings.Contains(target, "?") {
		return target + "&" + opt
	}
	return target + "?" + opt
}

func takeover(t *testing.T, bins, target string, db *testDB) {
	const orders = 150
	start := time.Now()
	id := herald.NewID()
	topic := "orders.created." + id
	env := append(os.Environ(), "HERALD_URL="+target, appdb.Env+"="+db.url)
	paidNow := func() map[string]shop.Payment {
		p, err := shop.Payments(context.Background(), db.DB, db.tables)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	notify := make(chan struct{}, 1)
	bin := func(name string) string { return filepath.Join(bins, name) }

	// Groups of this run only: the shared Kafka serves other tests too.
	audit := startProc(t, notify, "audit", bin("audit"), env, "-topic", topic, "-group", "audit-"+id)
	var pays []*proc
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("payment-%d", i)
		pays = append(pays, startProc(t, notify, name, bin("payment"), env, "-name", name, "-topic", topic,
			"-group", "payments-"+id, "-tables", db.prefix, "-work", "20ms"))
	}
	for _, p := range append([]*proc{audit}, pays...) {
		waitUntil(t, notify, 60*time.Second, p.name+" ready", func() bool {
			if p.done() {
				t.Fatalf("%s exited: %v\n%s", p.name, p.exitErr(), p.stderrText())
			}
			return p.count("ready in group") == 1
		})
	}
	t.Logf("services ready after %v", time.Since(start).Round(time.Millisecond))

	order := startProc(t, notify, "order", bin("order"), env, "-topic", topic, "-tables", db.prefix,
		"-n", fmt.Sprint(orders), "-rate", "75", "-prefix", "o-")

	// Kill the first payment process that paid 10 orders.
	var victim *proc
	waitUntil(t, notify, 30*time.Second, "a payment process paid 10 orders", func() bool {
		for _, p := range pays {
			if p.count(": paid ") >= 10 {
				victim = p
				return true
			}
		}
		return false
	})
	victim.kill(t)
	paidAtKill := paidNow()
	publishedAtKill := order.count("order: committed o-")
	t.Logf("killed %s after %v: %d orders published, %d paid", victim.name, time.Since(start).Round(time.Millisecond), publishedAtKill, len(paidAtKill))
	if len(paidAtKill) >= orders {
		t.Fatalf("every order was paid before the kill: not mid-stream")
	}

	waitUntil(t, notify, 30*time.Second, "the order service committed and relayed every order", func() bool { return order.done() })
	if err := order.exitErr(); err != nil || order.count(fmt.Sprintf("committed %d orders, relayed %d events", orders, orders)) != 1 {
		t.Fatalf("order service: %v\n%s", err, order.stderrText())
	}
	var paid map[string]shop.Payment
	waitUntil(t, notify, 40*time.Second, "every order paid", func() bool {
		paid = paidNow()
		return len(paid) == orders
	})
	waitUntil(t, notify, 20*time.Second, "audit saw every order", func() bool { return len(audited(audit)) == orders })
	t.Logf("all paid and audited after %v", time.Since(start).Round(time.Millisecond))

	// Exactly one payment per order, with the order's amount.
	want := map[string]int64{}
	for i := 1; i <= orders; i++ {
		want[fmt.Sprintf("o-%04d", i)] = int64(100 + i*137%9900)
	}
	byProcess := map[string]int{}
	for id, p := range paid {
		if amount, ok := want[id]; !ok || p.AmountCents != amount {
			t.Errorf("payment %s: %+v, want amount %d of a published order", id, p, amount)
		}
		byProcess[p.PaidBy]++
	}
	// A survivor's "paid" line is a committed payment: the table names it.
	// The victim's last lines may be of transactions its death rolled back
	// (the line is printed before the inbox commits), whose orders the
	// survivors paid again: that is the point.
	duplicates, rolledBack := 0, 0
	for _, p := range pays {
		for _, l := range p.output() {
			if _, rest, ok := strings.Cut(l, ": paid "); ok {
				oid := strings.Fields(rest)[0]
				switch by := paid[oid].PaidBy; {
				case by == p.name:
				case p == victim:
					rolledBack++
				default:
					t.Errorf("%s printed that it paid %s, the payments table says %q did", p.name, oid, by)
				}
			}
			if strings.Contains(l, "already paid") {
				duplicates++
			}
		}
	}
	// The survivors took over: they paid what the victim had not.
	var survivors int
	for _, p := range pays {
		if p != victim {
			survivors += byProcess[p.name]
		}
	}
	if survivors+byProcess[victim.name] != orders || survivors == 0 {
		t.Errorf("paid by process %v: the survivors did not take the rest over", byProcess)
	}
	for oid := range want {
		if !audited(audit)[oid] {
			t.Errorf("audit did not see %s", oid)
		}
	}
	t.Logf("paid by process %v; %d payments of the victim rolled back by its death and paid again; %d deliveries found their order paid by another message (redeliveries of one message the inbox skips silently)", byProcess, rolledBack, duplicates)

	// SIGTERM: the survivors and audit drain and exit 0.
	for _, p := range append([]*proc{audit}, pays...) {
		if p != victim {
			p.terminate(t)
		}
	}
	for _, p := range append([]*proc{audit}, pays...) {
		if p == victim {
			continue
		}
		waitUntil(t, notify, 20*time.Second, p.name+" stops after SIGTERM", p.done)
		if err := p.exitErr(); err != nil || p.count("stopped") != 1 {
			t.Errorf("%s after SIGTERM: %v\n%s", p.name, err, p.stderrText())
		}
	}
}

// audited returns the order IDs audit printed.
func audited(p *proc) map[string]bool {
	seen := map[string]bool{}
	for _, l := range p.output() {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "audit:" && f[2] == "message" {
			seen[f[1]] = true
		}
	}
	return seen
}
