package simnet

import (
	"bytes"
	"io/fs"
	"testing"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

// The templates are embedded in the binary (the demo serves them), so they
// cannot be read from the one fixture copy in probes/testdata at run time.
// They must stay byte-for-byte the reference fixtures of the same name,
// whose checksums the manifest guards.
func TestTemplatesAreTheReferenceFixtures(t *testing.T) {
	names, err := fs.Glob(templateFS, "templates/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no templates embedded")
	}
	for _, p := range names {
		got, err := templateFS.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := p[len("templates/"):]
		if want := testutil.Fixture(t, name); !bytes.Equal(got, want) {
			t.Errorf("%s differs from the reference fixture %s/%s", p, testutil.FixtureDir, name)
		}
	}
}
