package wmbridge_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsExample: the README's section "Watermill, both ways"
// shows the code of Example_bothWays as it is (from the bus type on).
func TestREADMEShowsExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_bothways_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, code, ok := strings.Cut(string(src), "// bus is one Watermill GoChannel")
	if !ok {
		t.Fatal("example_bothways_test.go: the bus type's comment is gone")
	}
	code = "// bus is one Watermill GoChannel" + strings.TrimRight(code, "\n")
	if !strings.Contains(string(readme), "## Watermill, both ways") || !strings.Contains(string(readme), "```go\n"+code+"\n```") {
		t.Error("README.md's section \"Watermill, both ways\" does not show wmbridge/example_bothways_test.go as it is; copy it from the bus type on")
	}
}
