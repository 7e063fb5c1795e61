// Package orders is the order -> payment example with consumer groups: an
// order service (cmd/order) writes each order and its orders.created event
// in one transaction (the transactional outbox) and relays the events,
// several payment processes (cmd/payment) share them in group "payments"
// and pay each order once (the inbox: the payment row and the message's
// record in one transaction), and an audit process (cmd/audit) in group
// "audit" sees every event; with -check-stock the order service first
// asks an inventory service (cmd/inventory) whether each order's SKU is
// in stock, by request/reply (internal/stock). See README.md for the commands,
// orders_test.go for the run with one payment process killed and
// crash_test.go for the crash between the commit and the publish.
package orders
