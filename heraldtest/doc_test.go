package heraldtest_test

import (
	"os"
	"strings"
	"testing"
)

// TestDocShowsTestBilling: the package documentation's service test is
// TestBilling as it is, with the service's package name (billing.) in
// front of what the test file declares itself.
func TestDocShowsTestBilling(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("billing_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	for _, l := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(l, "//\t"); ok {
			shown = append(shown, rest)
		} else if len(shown) > 0 {
			break
		}
	}
	_, fn, ok := strings.Cut(string(src), "func TestBilling(")
	if !ok {
		t.Fatal("billing_test.go has no TestBilling")
	}
	fn, _, _ = strings.Cut("func TestBilling("+fn, "\n}\n")
	want := strings.NewReplacer("startBilling(", "billing.Start(", "[Invoice]", "[billing.Invoice]", " Order{", " billing.Order{").Replace(fn + "\n}")
	if got := strings.Join(shown, "\n"); got != want {
		t.Errorf("doc.go's service test differs from TestBilling in billing_test.go:\n--- doc\n%s\n--- test\n%s", got, want)
	}
	if n := len(shown); n > 25 {
		t.Errorf("the doc's service test has %d lines; it is meant to be about 20", n)
	}
}
