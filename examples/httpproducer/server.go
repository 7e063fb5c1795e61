package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
)

// Body limits: one order, and a bulk request of up to maxBulk orders.
const (
	maxOrderBytes = 64 << 10
	maxBulkBytes  = 8 << 20
)

// server holds the HTTP handlers and what they share.
type server struct {
	cfg     config
	pub     *publisher.Publisher
	log     *slog.Logger
	metrics *metrics
	health  *healthCheck
}

// routes is the service's HTTP API.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", s.metrics.instrument("orders", s.createOrder))
	mux.HandleFunc("POST /orders/bulk", s.metrics.instrument("orders_bulk", s.createOrders))
	mux.HandleFunc("GET /healthz", s.metrics.instrument("healthz", s.healthz))
	mux.Handle("GET /metrics", s.metrics.handler())
	return mux
}

// createOrder answers POST /orders: 202 with the message ID once the
// broker acknowledged the order, 400 naming the invalid field, 503 with
// Retry-After when the broker stayed unavailable through every retry.
func (s *server) createOrder(w http.ResponseWriter, r *http.Request) {
	var o Order
	if ferr := decodeStrict(http.MaxBytesReader(w, r.Body, maxOrderBytes), &o); ferr != nil {
		s.reject(w, ferr)
		return
	}
	if ferr := o.validate(); ferr != nil {
		s.reject(w, ferr)
		return
	}
	msg, err := orderMessage(o)
	if err != nil {
		s.fail(w, o.ID, err)
		return
	}
	start := time.Now()
	if err := publishBatch(r.Context(), s.pub, s.cfg.Topic, []*herald.Message{msg}, s.cfg.Retry, s.metrics.attempt)[0]; err != nil {
		s.fail(w, o.ID, err)
		return
	}
	s.log.Info("order accepted", "order_id", o.ID, "message_id", msg.UUID, "took_ms", time.Since(start).Milliseconds())
	writeJSON(w, http.StatusAccepted, map[string]string{"id": o.ID, "message_id": msg.UUID})
}

// bulkResult is one order's line in the answer of POST /orders/bulk.
type bulkResult struct {
	Index     int    `json:"index"`
	ID        string `json:"id,omitempty"`
	Status    string `json:"status"` // accepted | invalid | unavailable | failed
	MessageID string `json:"message_id,omitempty"`
	Field     string `json:"field,omitempty"`
	Error     string `json:"error,omitempty"`
}

// createOrders answers POST /orders/bulk, a JSON array of orders. Every
// order is validated first: with any invalid one nothing is published
// and the answer is 400 listing them. Otherwise the orders go out in one
// batched Publish (retried per order like POST /orders) and the answer
// lists each order's outcome: 202 when all were acknowledged, 503 with
// Retry-After when none was because the broker was unavailable, 207
// otherwise (publish again only the orders not "accepted").
func (s *server) createOrders(w http.ResponseWriter, r *http.Request) {
	var raws []json.RawMessage
	if ferr := decodeStrict(http.MaxBytesReader(w, r.Body, maxBulkBytes), &raws); ferr != nil {
		s.reject(w, ferr)
		return
	}
	if len(raws) == 0 || len(raws) > s.cfg.MaxBulk {
		s.reject(w, &fieldError{"body", fmt.Sprintf("must be a JSON array of 1 to %d orders, got %d", s.cfg.MaxBulk, len(raws))})
		return
	}
	orders := make([]Order, len(raws))
	var invalid []bulkResult
	seen := make(map[string]int, len(raws))
	for i, raw := range raws {
		ferr := decodeStrict(bytes.NewReader(raw), &orders[i])
		if ferr == nil {
			ferr = orders[i].validate()
		}
		if j, dup := seen[orders[i].ID]; ferr == nil && dup {
			ferr = &fieldError{"id", fmt.Sprintf("duplicate of order %d in this request", j)}
		}
		seen[orders[i].ID] = i
		if ferr != nil {
			invalid = append(invalid, bulkResult{Index: i, ID: orders[i].ID, Status: "invalid", Field: ferr.Field, Error: ferr.Problem})
		}
	}
	if len(invalid) > 0 {
		s.log.Info("bulk rejected", "orders", len(orders), "invalid", len(invalid))
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error":   fmt.Sprintf("%d of %d orders are invalid; nothing was published", len(invalid), len(orders)),
			"results": invalid,
		})
		return
	}
	msgs := make([]*herald.Message, len(orders))
	for i, o := range orders {
		m, err := orderMessage(o)
		if err != nil {
			s.fail(w, o.ID, err)
			return
		}
		msgs[i] = m
	}
	start := time.Now()
	errs := publishBatch(r.Context(), s.pub, s.cfg.Topic, msgs, s.cfg.Retry, s.metrics.attempt)
	results := make([]bulkResult, len(orders))
	var accepted, unavailable int
	for i, err := range errs {
		results[i] = bulkResult{Index: i, ID: orders[i].ID, Status: "accepted", MessageID: msgs[i].UUID}
		switch {
		case err == nil:
			accepted++
		case unavailableErr(err):
			unavailable++
			results[i] = bulkResult{Index: i, ID: orders[i].ID, Status: "unavailable", Error: "broker unavailable, try again later"}
		default:
			results[i] = bulkResult{Index: i, ID: orders[i].ID, Status: "failed", Error: "not published"}
		}
		if err != nil {
			s.log.Warn("bulk order not published", "order_id", orders[i].ID, "error", err)
		}
	}
	code := http.StatusMultiStatus
	switch {
	case accepted == len(orders):
		code = http.StatusAccepted
	case unavailable == len(orders):
		code = http.StatusServiceUnavailable
	}
	if unavailable > 0 {
		w.Header().Set("Retry-After", retryAfter(s.cfg.RetryAfter))
	}
	s.log.Info("bulk published", "orders", len(orders), "accepted", accepted, "unavailable", unavailable,
		"failed", len(orders)-accepted-unavailable, "status", code, "took_ms", time.Since(start).Milliseconds())
	writeJSON(w, code, map[string]any{"accepted": accepted, "unavailable": unavailable,
		"failed": len(orders) - accepted - unavailable, "results": results})
}

// healthz answers 200 when the broker acknowledged a probe message within
// the health timeout, 503 otherwise.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.health.check(r.Context()); err != nil {
		s.log.Warn("health check failed", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable",
			"broker": failureReason(err)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "broker": "reachable"})
}

// orderMessage is the message for o: JSON, keyed by the order ID.
func orderMessage(o Order) (*herald.Message, error) {
	msg, err := herald.NewJSONMessage(o)
	if err != nil {
		return nil, err
	}
	herald.SetKey(msg, o.ID)
	return msg, nil
}

// unavailableErr reports whether a publish failed because the broker was
// unavailable (every try failed transiently, or the service is stopping),
// which is worth trying again later.
func unavailableErr(err error) bool {
	return errors.Is(err, errGaveUp) || transient(err) || errors.Is(err, herald.ErrClosed)
}

// reject answers 400 naming the invalid field.
func (s *server) reject(w http.ResponseWriter, ferr *fieldError) {
	s.log.Info("order rejected", "field", ferr.Field, "problem", ferr.Problem)
	writeJSON(w, http.StatusBadRequest, ferr)
}

// fail answers a publish failure: 503 with Retry-After when the broker was
// unavailable, 500 otherwise. The details go to the log, not the client.
func (s *server) fail(w http.ResponseWriter, id string, err error) {
	if unavailableErr(err) {
		s.log.Warn("order not published: broker unavailable", "order_id", id, "error", err)
		w.Header().Set("Retry-After", retryAfter(s.cfg.RetryAfter))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"id": id, "error": "broker unavailable, try again later"})
		return
	}
	s.log.Error("order not published", "order_id", id, "error", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"id": id, "error": "not published"})
}

// retryAfter is a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
}

// writeJSON writes v as the JSON body of a code answer.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}
