package memory

import (
	"fmt"

	"github.com/heraldkit/herald"
)

var errClosed = fmt.Errorf("memory subscriber: %w", herald.ErrClosed)
