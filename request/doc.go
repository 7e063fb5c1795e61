// Package request is request/reply on every Herald backend: a typed
// Request that waits for its reply, and a Responder that is an ordinary
// herald.Handler, subscribed with subscriber.Subscribe, so middleware,
// groups and windows apply to it as to any handler.
//
// # Client
//
// Open (or OpenConfig) opens a Client once: one reply channel (the
// backend's native path, see adapters.RequestPath) that every request of
// the client shares, whatever their number in flight. Replies are matched
// to requests by a correlation token; no request opens a subscription.
//
//	c, err := request.Open(ctx, "nats://localhost:4222?mode=core")
//	defer c.Close()
//	stock, err := request.Request[StockQuery, Stock](ctx, c, "inventory.stock", StockQuery{SKU: "A1"})
//
// A client that only answers (a Responder's) opens its reply channel
// too: on Kafka that is a reply topic, created at Open and deleted at
// Close.
//
// # Responder
//
//	sub.Subscribe(ctx, "inventory.stock", request.Responder(c,
//		func(ctx context.Context, q StockQuery) (Stock, error) { return lookup(ctx, q) }))
//
// The responder decodes the request (JSON), calls the function with a
// context bounded by the request's deadline, and sends the result (or the
// error's text) to the request's reply address. A request whose deadline
// has passed when it arrives is acknowledged without calling the
// function: its requester no longer waits.
//
// # Headers
//
// A request carries, as visible metadata: DeadlineHeader (set by Request),
// adapters.ReplyToHeader and adapters.CorrelationHeader (set by the
// driver from the broker's own properties where it has them: AMQP
// reply_to and correlation_id, a NATS reply subject, Kafka headers). A
// reply carries ErrorHeader when the responder failed.
//
// # Errors
//
// Request returns an error matching ErrTimeout (and
// context.DeadlineExceeded) when no reply came before the deadline,
// ErrNoResponder when the backend tells at once that nobody subscribes
// (Capabilities.Request.FailFast; elsewhere such a request times out),
// and a *RemoteError (matching ErrRemote) carrying the responder's
// message when the responder returned an error.
package request
