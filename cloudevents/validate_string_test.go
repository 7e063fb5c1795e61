package cloudevents_test

import (
	"errors"
	"testing"

	"github.com/heraldkit/herald/cloudevents"
)

// TestValidateRefusesForbiddenCharacters: the CloudEvents 1.0 String type
// (every context attribute and string extension) must not hold the
// control characters U+0000-U+001F and U+007F-U+009F, noncharacters or
// surrogates (Go: invalid UTF-8). Writes are strict: Validate refuses such
// an event with a *ValidationError naming the attribute. On contract it
// accepts them, and a binary Kafka or AMQP write puts a raw CR/LF, NUL or
// invalid UTF-8 in a header that sdk-go and other readers reject.
func TestValidateRefusesForbiddenCharacters(t *testing.T) {
	ok := cloudevents.Event{ID: "1", Source: "/s", Type: "t"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*cloudevents.Event){
		"id":      func(e *cloudevents.Event) { e.ID = "1\x00" },
		"type":    func(e *cloudevents.Event) { e.Type = "com.example\nX-Injected: 1" },
		"subject": func(e *cloudevents.Event) { e.Subject = "a\u0085b" },
		"source":  func(e *cloudevents.Event) { e.Source = "/s\x7f" },
		"note":    func(e *cloudevents.Event) { e.Extensions = map[string]any{"note": "bad \xff utf-8"} },
		"tag":     func(e *cloudevents.Event) { e.Extensions = map[string]any{"tag": "non\uFFFEcharacter"} },
	}
	for attr, change := range cases {
		ev := ok
		change(&ev)
		err := ev.Validate()
		var ve *cloudevents.ValidationError
		if !errors.As(err, &ve) || ve.Attribute != attr {
			t.Errorf("%s: Validate = %v; want a *ValidationError naming %q", attr, err, attr)
		}
	}
}
