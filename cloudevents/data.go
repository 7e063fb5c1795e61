package cloudevents

import (
	"encoding/json"
	"fmt"

	"github.com/heraldkit/herald"
)

// SetJSONData sets the event's data to v encoded as JSON and its
// datacontenttype to application/json, as herald.NewJSONMessage does for
// a plain message. DataSchema is left as it is.
func (e *Event) SetJSONData(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cloudevents: encode %T as JSON: %w", v, err)
	}
	e.Data, e.DataContentType = b, "application/json"
	return nil
}

// DecodeJSON decodes the event's data into a T. Data whose
// datacontenttype is set and not JSON, or that does not decode, is a
// herald.Permanent error: retrying cannot fix it.
func DecodeJSON[T any](e Event) (T, error) {
	var v T
	if !isJSON(e.DataContentType) {
		return v, herald.Permanent(&ValidationError{Attribute: "datacontenttype", Value: e.DataContentType, Problem: fmt.Sprintf("is not JSON: cannot decode into %T", v), Allowed: "application/json, text/json, */*+json or absent"})
	}
	if err := json.Unmarshal(e.Data, &v); err != nil {
		return v, herald.Permanent(fmt.Errorf("cloudevents: event %s: decode JSON into %T: %w", e.ID, v, err))
	}
	return v, nil
}
