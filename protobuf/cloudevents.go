package protobuf

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/cloudevents"
)

// SchemaPrefix starts the dataschema SetEventData writes: followed by the
// message's full name it is an absolute URI in the form of a
// google.protobuf.Any type URL, which protoregistry's FindMessageByURL
// resolves.
const SchemaPrefix = "https://type.googleapis.com/"

// SetEventData sets ev's data to m in the binary format, its
// datacontenttype to application/protobuf and its dataschema to
// SchemaPrefix + m's full name.
func SetEventData(ev *cloudevents.Event, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("herald: encode %T as Protocol Buffers: %w", m, err)
	}
	ev.Data = b
	ev.DataContentType = ContentType
	ev.DataSchema = SchemaPrefix + string(m.ProtoReflect().Descriptor().FullName())
	return nil
}

// EventData decodes ev's data into a new T. An event whose datacontenttype
// is not Protocol Buffers, whose dataschema names another message type,
// or whose data does not decode is a herald.Permanent error. An absent
// dataschema is not checked.
func EventData[T proto.Message](ev cloudevents.Event) (T, error) {
	v := newMessage[T]()
	if !isProtobuf(ev.DataContentType) {
		return v, herald.Permanent(&cloudevents.ValidationError{Attribute: "datacontenttype", Value: ev.DataContentType, Problem: fmt.Sprintf("is not Protocol Buffers: cannot decode into %T", v), Allowed: ContentType})
	}
	name := string(v.ProtoReflect().Descriptor().FullName())
	if ev.DataSchema != "" && ev.DataSchema[strings.LastIndexByte(ev.DataSchema, '/')+1:] != name {
		return v, herald.Permanent(&cloudevents.ValidationError{Attribute: "dataschema", Value: ev.DataSchema, Problem: fmt.Sprintf("names another message type than %s", name), Allowed: SchemaPrefix + name})
	}
	if err := proto.Unmarshal(ev.Data, v); err != nil {
		return v, herald.Permanent(fmt.Errorf("herald: event %s: decode Protocol Buffers into %T: %w", ev.ID, v, err))
	}
	return v, nil
}

// EventHandler returns a herald.Handler that reads each message's
// CloudEvent (cloudevents.FromMessage), decodes its data into a T
// (EventData) and calls fn. Either failing is a herald.Permanent error.
func EventHandler[T proto.Message](fn func(ctx context.Context, ev cloudevents.Event, v T, m *herald.Message) error) herald.Handler {
	return cloudevents.Handler(func(ctx context.Context, ev cloudevents.Event, m *herald.Message) error {
		v, err := EventData[T](ev)
		if err != nil {
			return err
		}
		return fn(ctx, ev, v, m)
	})
}
