package heraldtest

import (
	"context"
	"errors"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// OpenRequester refuses request/reply, which the harness does not have
// yet: request.Open on a harness URL fails with this error, naming the
// backend, rather than falling back to something else.
func (driver) OpenRequester(context.Context, herald.Config, adapters.Env) (adapters.Requester, error) {
	return nil, &herald.Error{Backend: Scheme, Op: "open requester", Kind: herald.KindInvalid,
		Err: errors.New("the test harness has no request/reply yet")}
}
