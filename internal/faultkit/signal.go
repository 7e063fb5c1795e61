package faultkit

// Signal wakes one waiter: Notify never blocks, and notifications that
// come while none is taken are one. A waiter receives from it.
type Signal chan struct{}

// NewSignal returns a Signal with no notification pending.
func NewSignal() Signal { return make(Signal, 1) }

// Notify leaves a notification unless one is pending.
func (s Signal) Notify() {
	select {
	case s <- struct{}{}:
	default:
	}
}
