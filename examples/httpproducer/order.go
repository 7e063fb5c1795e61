package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// Order is the body of POST /orders and one element of POST /orders/bulk.
// It is published as is (JSON) to the orders topic, keyed by ID.
type Order struct {
	ID          string `json:"id"`
	Customer    string `json:"customer"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
}

// fieldError is a validation failure of one field; the HTTP answer names it.
type fieldError struct {
	Field   string `json:"field"`
	Problem string `json:"error"`
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Problem }

var (
	idPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// maxAmountCents bounds an order's amount (10 million in the currency).
const maxAmountCents = 1_000_000_000

// validate returns the first invalid field of o, or nil.
func (o Order) validate() *fieldError {
	switch {
	case o.ID == "":
		return &fieldError{"id", "required"}
	case !idPattern.MatchString(o.ID):
		return &fieldError{"id", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"}
	case strings.TrimSpace(o.Customer) == "":
		return &fieldError{"customer", "required"}
	case len(o.Customer) > 200:
		return &fieldError{"customer", "must be at most 200 bytes"}
	case o.AmountCents <= 0:
		return &fieldError{"amount_cents", "must be a positive whole number of cents"}
	case o.AmountCents > maxAmountCents:
		return &fieldError{"amount_cents", fmt.Sprintf("must be at most %d", maxAmountCents)}
	case o.Currency == "":
		return &fieldError{"currency", "required"}
	case !currencyPattern.MatchString(o.Currency):
		return &fieldError{"currency", `must be a 3-letter ISO 4217 code in capitals, like "EUR"`}
	}
	return nil
}

// decodeStrict decodes one JSON value from r into v, rejecting unknown
// fields, wrong types and trailing data with a fieldError naming the field
// ("body" when the problem is not one field's).
func decodeStrict(r io.Reader, v any) *fieldError {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return &fieldError{"body", "must hold one JSON value, found more after it"}
	}
	return nil
}

// jsonError turns a decoding error into a fieldError.
func jsonError(err error) *fieldError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return &fieldError{field, "must be a JSON " + expected(typeErr.Type.Kind().String())}
	case errors.As(err, &syntaxErr):
		return &fieldError{"body", fmt.Sprintf("invalid JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &fieldError{"body", "truncated JSON"}
	case errors.Is(err, io.EOF):
		return &fieldError{"body", "empty: send a JSON order"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &fieldError{name, "unknown field (allowed: id, customer, amount_cents, currency)"}
	case errors.As(err, &maxErr):
		return &fieldError{"body", fmt.Sprintf("too large (at most %d bytes)", maxErr.Limit)}
	}
	return &fieldError{"body", err.Error()}
}

// expected names a Go kind the way a JSON client thinks of it.
func expected(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	case "string":
		return "string"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	}
	return kind
}
