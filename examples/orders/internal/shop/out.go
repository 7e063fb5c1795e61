package shop

import (
	"fmt"
	"io"
	"sync"
)

// Printer writes whole lines to an output shared by concurrent handlers.
type Printer struct {
	mu  sync.Mutex
	out io.Writer
}

// NewPrinter prints to out.
func NewPrinter(out io.Writer) *Printer { return &Printer{out: out} }

// Printf prints one line (a newline is added).
func (p *Printer) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format+"\n", args...)
}
