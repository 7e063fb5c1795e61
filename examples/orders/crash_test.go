package orders

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/examples/internal/appdb"
	"github.com/heraldkit/herald/examples/orders/internal/shop"
)

// TestCrashAfterCommit is the outbox's reason to be, with the services as
// processes on the embedded broker, on SQLite and PostgreSQL:
//
//   - the order service dies (EXAMPLE_CRASH_AFTER_COMMIT=1: exit 2) right
//     after committing order c-0001, before anything is published; its
//     event is in the outbox, unsent; restarted (-n 0), the relay sends it
//     and it is paid;
//   - the same crash with -outbox=false (publish after the commit) loses
//     l-0001's event: the order is in the database, never delivered;
//   - the payment service dies (EXAMPLE_CRASH_AFTER_PAYMENT=1) right after
//     c-0001's payment committed, before the ack; restarted, it gets the
//     message again and its inbox skips it: paid once;
//   - a rolled-back order (r-0002) publishes nothing.
func TestCrashAfterCommit(t *testing.T) {
	bins := build(t)
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) { crashAfterCommit(t, bins, "nats://"+startNATS(t)+"?ack_wait=2s", d.open(t)) })
	}
}

func crashAfterCommit(t *testing.T, bins, target string, db *testDB) {
	ctx := context.Background()
	id := herald.NewID()
	topic := "orders.created." + id
	env := append(os.Environ(), "HERALD_URL="+target, appdb.Env+"="+db.url)
	notify := make(chan struct{}, 1)
	bin := func(name string) string { return filepath.Join(bins, name) }
	tables := []string{"-tables", db.prefix, "-topic", topic}

	audit := startProc(t, notify, "audit", bin("audit"), env, "-topic", topic, "-group", "audit-"+id)
	// One order at a time, in the stream's order: an order handled after
	// another means the other was handled (or skipped) before.
	startPayment := func(name string, extraEnv []string) *proc {
		p := startProc(t, notify, name, bin("payment"), append(append([]string{}, env...), extraEnv...),
			append(tables, "-name", name, "-group", "payments-"+id, "-concurrency", "1", "-work", "1ms")...)
		waitUntil(t, notify, 60*time.Second, name+" ready", func() bool {
			if p.done() {
				t.Fatalf("%s exited: %v\n%s", name, p.exitErr(), p.stderrText())
			}
			return p.count("ready in group") == 1
		})
		return p
	}
	// The first payment process dies after its first commit, before the ack.
	pay := startPayment("payment", []string{"EXAMPLE_CRASH_AFTER_PAYMENT=1"})
	waitUntil(t, notify, 60*time.Second, "audit ready", func() bool { return audit.count("ready in group") == 1 })
	// order runs the order service to its end and returns its output.
	order := func(extraEnv []string, wantExit int, args ...string) []string {
		t.Helper()
		cmd := exec.Command(bin("order"), append(append([]string{}, tables...), append(args, "-rate", "0")...)...)
		cmd.Env = append(append([]string{}, env...), extraEnv...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantExit {
			t.Fatalf("order %v: exit %d, want %d\n%s%s", args, code, wantExit, out, stderr.String())
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	crash := []string{"EXAMPLE_CRASH_AFTER_COMMIT=1"}
	unsent := func() int { return count(t, db, "SELECT count(*) FROM "+db.tables.Outbox+" WHERE sent_at IS NULL") }

	// 1. Outbox: the crash after the commit leaves the event unsent.
	out := order(crash, 2, "-n", "3", "-prefix", "c-")
	if !slices.Contains(out, "order: committed c-0001 (message "+messageID(t, out, "c-0001")+")") || slices.ContainsFunc(out, func(l string) bool { return strings.Contains(l, "c-0002") }) {
		t.Fatalf("crash run: %q, want c-0001 committed and nothing after", out)
	}
	if n := unsent(); n != 1 {
		t.Fatalf("after the crash: %d unsent outbox rows, want 1 (c-0001)", n)
	}
	// 2. No outbox: the same crash loses the event.
	order(crash, 2, "-n", "1", "-prefix", "l-", "-outbox=false")
	// 3. The restart relays c-0001.
	if out := order(nil, 0, "-n", "0"); !slices.Contains(out, "order: committed 0 orders, relayed 1 events") {
		t.Fatalf("restart: %q, want c-0001 relayed", out)
	}
	waitUntil(t, notify, 30*time.Second, "c-0001 paid", func() bool { return paid(t, db)["c-0001"].OrderID != "" })

	// 4. The payment died after its commit, before the ack: restarted, it
	// gets c-0001 again, and the inbox skips it.
	waitUntil(t, notify, 10*time.Second, "payment exits after its first commit", pay.done)
	if code := exitCode(pay); code != 2 {
		t.Fatalf("payment with %s=1: exit %d, want 2\n%s", "EXAMPLE_CRASH_AFTER_PAYMENT", code, pay.stderrText())
	}
	pay2 := startPayment("payment-2", nil)
	waitUntil(t, notify, 30*time.Second, "the restarted payment skips c-0001's redelivery", func() bool {
		return pay2.count("(c-0001) already handled (inbox): skipped") == 1
	})
	// 5. r-0001 committed, r-0002 rolled back: handled after the duplicate.
	out = order(nil, 0, "-n", "2", "-prefix", "r-", "-rollback-every", "2")
	if !slices.Contains(out, "order: committed 1 orders, relayed 1 events") || !strings.HasPrefix(out[1], "order: rolled back r-0002") {
		t.Fatalf("rollback run: %q", out)
	}
	waitUntil(t, notify, 30*time.Second, "r-0001 paid", func() bool { return paid(t, db)["r-0001"].OrderID != "" })
	waitUntil(t, notify, 30*time.Second, "audit saw c-0001 and r-0001", func() bool {
		return auditCount(audit, "c-0001") == 1 && auditCount(audit, "r-0001") == 1
	})

	got := paid(t, db)
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"c-0001", "r-0001"}) {
		t.Errorf("paid %v, want [c-0001 r-0001]: l-0001's event was lost, r-0002 rolled back", ids)
	}
	if n := pay.count("paid c-0001 ") + pay2.count("paid c-0001 "); n != 1 {
		t.Errorf("payment charged c-0001 %d times, want 1 (the second delivery is the inbox's to skip)", n)
	}
	for _, lost := range []string{"l-0001", "r-0002"} {
		if n := auditCount(audit, lost); n != 0 {
			t.Errorf("audit saw %s %d times, want 0", lost, n)
		}
	}
	orders, err := shop.OrderIDs(ctx, db.DB, db.tables)
	slices.Sort(orders)
	if err != nil || !slices.Equal(orders, []string{"c-0001", "l-0001", "r-0001"}) {
		t.Errorf("orders table %v, %v: want c-0001, l-0001 (committed, its event lost) and r-0001", orders, err)
	}
	if n := count(t, db, "SELECT count(*) FROM "+db.tables.Outbox); n != 2 {
		t.Errorf("%d outbox rows, want 2 (c-0001, r-0001): the rolled-back r-0002 wrote none", n)
	}
	t.Logf("c-0001: committed, crashed, relayed after the restart, paid, payment crashed before the ack, redelivered and skipped: paid once; l-0001 (no outbox): committed, event lost; r-0002: rolled back, nothing published")
}

// messageID returns the message ID the order service printed for order.
func messageID(t *testing.T, out []string, order string) string {
	for _, l := range out {
		if _, rest, ok := strings.Cut(l, "committed "+order+" (message "); ok {
			return strings.TrimSuffix(rest, ")")
		}
	}
	t.Fatalf("no commit of %s in %q", order, out)
	return ""
}

func paid(t *testing.T, db *testDB) map[string]shop.Payment {
	t.Helper()
	p, err := shop.Payments(context.Background(), db.DB, db.tables)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func count(t *testing.T, db *testDB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// auditCount returns how many events of order audit printed.
func auditCount(p *proc, order string) int {
	return p.count(fmt.Sprintf("audit: %s message ", order))
}

// exitCode is the exit status of a process that ended.
func exitCode(p *proc) int {
	var exit *exec.ExitError
	if errors.As(p.exitErr(), &exit) {
		return exit.ExitCode()
	}
	return 0
}
