package adapters

import "context"

// ContextInitializer is implemented by an adapter's Watermill subscriber
// whose SubscribeInitialize (message.SubscribeInitializer) can honour a
// context. The subscriber package's Prepare calls it when available.
type ContextInitializer interface {
	SubscribeInitializeContext(ctx context.Context, topic string) error
}
