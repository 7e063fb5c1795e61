package protobuf_test

import (
	"testing"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/protobuf"
	"github.com/heraldkit/herald/protobuf/internal/orderpb"
)

// jsonOrder is orderpb.Order as a Go struct for encoding/json, with the
// field names a JSON API would use.
type jsonOrder struct {
	ID            string     `json:"id"`
	Customer      string     `json:"customer"`
	Items         []jsonItem `json:"items"`
	TotalCents    int64      `json:"total_cents"`
	Currency      string     `json:"currency"`
	CreatedUnixMs int64      `json:"created_unix_ms"`
	Status        int32      `json:"status"`
	Note          string     `json:"note"`
}

type jsonItem struct {
	Sku        string `json:"sku"`
	Quantity   int32  `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
}

// The benchmark order: three items and a short note, about what a shop
// publishes per order.
func benchOrder() (*orderpb.Order, jsonOrder) {
	pb := &orderpb.Order{Id: "01JEXAMPLE0RDER0000000001", Customer: "customer-000042", TotalCents: 123450, Currency: "EUR",
		CreatedUnixMs: 1796305200123, Status: orderpb.Status_STATUS_PLACED, Note: "leave at the door"}
	j := jsonOrder{ID: pb.Id, Customer: pb.Customer, TotalCents: pb.TotalCents, Currency: pb.Currency, CreatedUnixMs: pb.CreatedUnixMs, Status: int32(pb.Status), Note: pb.Note}
	for i, sku := range []string{"book-0042", "pen-0007", "bag-0100"} {
		it := &orderpb.Item{Sku: sku, Quantity: int32(i + 1), PriceCents: int64(1000 * (i + 1))}
		pb.Items = append(pb.Items, it)
		j.Items = append(j.Items, jsonItem{Sku: it.Sku, Quantity: it.Quantity, PriceCents: it.PriceCents})
	}
	return pb, j
}

// BenchmarkCodec: per message, encode (herald.NewJSONMessage,
// protobuf.NewMessage: what a publish does before the driver), decode
// (herald.Decode, protobuf.Decode: what a handler does first) and both;
// B/msg is the payload size.
func BenchmarkCodec(b *testing.B) {
	pb, j := benchOrder()
	jm, _ := herald.NewJSONMessage(j)
	pm, _ := protobuf.NewMessage(pb)
	codecs := []struct {
		name   string
		size   int
		encode func() (*herald.Message, error)
		decode func(*herald.Message) error
	}{
		{"JSON", len(jm.Payload),
			func() (*herald.Message, error) { return herald.NewJSONMessage(j) },
			func(m *herald.Message) error { _, err := herald.Decode[jsonOrder](m); return err }},
		{"Protobuf", len(pm.Payload),
			func() (*herald.Message, error) { return protobuf.NewMessage(pb) },
			func(m *herald.Message) error { _, err := protobuf.Decode[*orderpb.Order](m); return err }},
	}
	for _, c := range codecs {
		m, _ := c.encode()
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.encode(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.size), "B/msg")
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.decode(m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.size), "B/msg")
		})
		b.Run(c.name+"/both", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m, err := c.encode()
				if err != nil {
					b.Fatal(err)
				}
				if err := c.decode(m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.size), "B/msg")
		})
	}
}
