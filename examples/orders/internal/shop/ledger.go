package shop

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Ledger records payments, at most one per order ID, in a directory that
// every payment process on the machine shares: one file per paid order,
// <dir>/<order ID>.json. Paying is the effect, and it is idempotent by key:
// the entry is written to a temporary file and then hard-linked to its
// name, which fails when the name exists. The link is atomic, so of two
// processes paying one order (a redelivery after a crash, a rebalance) one
// wins and the other learns the order was paid; a process killed at any
// point leaves either a complete entry or none (plus, at worst, a
// temporary file). With a database the same is a unique key on the order
// ID; with a payment provider, its idempotency key.
type Ledger struct{ dir string }

// Payment is one ledger entry.
type Payment struct {
	OrderID     string    `json:"order_id"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	PaidBy      string    `json:"paid_by"`    // the payment process
	MessageID   string    `json:"message_id"` // the delivery that paid it
	PaidAt      time.Time `json:"paid_at"`
}

// OpenLedger opens (creating it if needed) the ledger in dir.
func OpenLedger(dir string) (*Ledger, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return &Ledger{dir: dir}, nil
}

// Pay records p unless its order was paid already. It returns true when
// this call paid, false (and the existing entry) when the order had been
// paid before.
func (l *Ledger) Pay(p Payment) (paid bool, existing Payment, err error) {
	if !idPattern.MatchString(p.OrderID) {
		return false, Payment{}, fmt.Errorf("ledger: order id %q is not a valid file name", p.OrderID)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return false, Payment{}, err
	}
	tmp, err := os.CreateTemp(l.dir, ".pay-*")
	if err != nil {
		return false, Payment{}, fmt.Errorf("ledger: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, Payment{}, fmt.Errorf("ledger: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil { // complete on disk before it gets its name
		tmp.Close()
		return false, Payment{}, fmt.Errorf("ledger: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return false, Payment{}, fmt.Errorf("ledger: %w", err)
	}
	err = os.Link(tmp.Name(), l.path(p.OrderID))
	if errors.Is(err, fs.ErrExist) {
		existing, err := l.Get(p.OrderID)
		return false, existing, err
	}
	if err != nil {
		return false, Payment{}, fmt.Errorf("ledger: %w", err)
	}
	return true, p, nil
}

// Get returns the payment of an order.
func (l *Ledger) Get(orderID string) (Payment, error) {
	var p Payment
	data, err := os.ReadFile(l.path(orderID))
	if err != nil {
		return p, fmt.Errorf("ledger: %w", err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("ledger: %s: %w", l.path(orderID), err)
	}
	return p, nil
}

// Paid lists the IDs of the paid orders.
func (l *Ledger) Paid() ([]string, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if name := e.Name(); !strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".json") {
			ids = append(ids, strings.TrimSuffix(name, ".json"))
		}
	}
	return ids, nil
}

func (l *Ledger) path(orderID string) string { return filepath.Join(l.dir, orderID+".json") }
