package heraldtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocShowsTests: each test the package documentation shows is a test
// of this package as it is (TestBilling, TestUnpaidOrderCancelled,
// TestPriceQuote), with the service's package name (billing., orders.,
// pricing.) in front of what the test files declare themselves, and
// about 20 lines long.
func TestDocShowsTests(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	service := strings.NewReplacer(
		"startBilling(", "billing.Start(", "[Invoice]", "[billing.Invoice]", " Order{", " billing.Order{",
		"startOrders(", "orders.Start(", " Placed{", " orders.Placed{", "[Cancelled]", "[orders.Cancelled]",
		"startPricing(", "pricing.Start(", "[Query, Quote]", "[pricing.Query, pricing.Quote]", " Query{", " pricing.Query{")
	var blocks [][]string
	var cur []string
	for _, l := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(l, "//\t"); ok {
			cur = append(cur, rest)
			continue
		}
		if cur != nil {
			blocks = append(blocks, cur)
			cur = nil
		}
	}
	shown := map[string]bool{}
	for _, b := range blocks {
		name, _, _ := strings.Cut(strings.TrimPrefix(b[0], "func "), "(")
		shown[name] = true
		_, fn, ok := strings.Cut(src.String(), "\nfunc "+name+"(")
		if !ok {
			t.Errorf("doc.go shows %s, which no test file has", name)
			continue
		}
		fn, _, _ = strings.Cut("func "+name+"("+fn, "\n}\n")
		if got, want := strings.Join(b, "\n"), service.Replace(fn+"\n}"); got != want {
			t.Errorf("doc.go's %s differs from the test:\n--- doc\n%s\n--- test\n%s", name, got, want)
		}
		if n := len(b); n > 25 {
			t.Errorf("the doc's %s has %d lines; it is meant to be about 20", name, n)
		}
	}
	for _, name := range []string{"TestBilling", "TestUnpaidOrderCancelled", "TestPriceQuote"} {
		if !shown[name] {
			t.Errorf("doc.go does not show %s", name)
		}
	}
}
