package kafka

// SetAsyncWindow replaces p's PublishAsync window (before any use).
func SetAsyncWindow(p *Publisher, n int) { p.window = make(chan struct{}, n) }
