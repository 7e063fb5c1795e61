// Package orders is the order -> payment example with consumer groups: an
// order service (cmd/order) publishes orders.created, several payment
// processes (cmd/payment) share them in group "payments" and pay each
// order once (internal/shop.Ledger), and an audit process (cmd/audit) in
// group "audit" sees every event. See README.md for the commands and
// orders_test.go for the run with one payment process killed.
package orders
