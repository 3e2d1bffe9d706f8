package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// committed is the dashboard as shipped, relative to this package.
var committed = filepath.Join("..", "..", "deploy", "grafana", "nymwatch.json")

// TestCommittedDashboardIsGenerated fails when deploy/grafana/nymwatch.json
// was edited by hand or the generator changed without regenerating it.
func TestCommittedDashboardIsGenerated(t *testing.T) {
	var a, b bytes.Buffer
	if err := write(&a); err != nil {
		t.Fatal(err)
	}
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the generator is not deterministic: two runs differ")
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatalf("%v (generate it: cd tools && go run ./dashboard > ../deploy/grafana/nymwatch.json)", err)
	}
	if !bytes.Equal(got, a.Bytes()) {
		t.Errorf("%s differs from the generated dashboard; regenerate it: cd tools && go run ./dashboard > ../deploy/grafana/nymwatch.json", committed)
	}
}
