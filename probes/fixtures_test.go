package probes

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures are copies of the Nym API reference's example responses
// (taken from the Nym sources); the project never reads the reference
// itself. fixtures.sha256 was written when they were copied, so a copy
// edited by hand (drifting from the real shapes) fails here. To refresh
// them, copy the reference's fixtures/*.json into testdata/fixtures and run
// (cd probes/testdata/fixtures && sha256sum *.json > ../fixtures.sha256).
// This is the one copy: other packages' tests (internal/simnet, whichever
// package holds the nym-api client) read it through testutil.Fixture,
// which checks each file against the same manifest.
func TestFixturesMatchTheReferenceCopies(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "fixtures.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("bad line %q", sc.Text())
		}
		listed[name] = true
		b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s differs from the reference copy", name)
		}
		if !json.Valid(b) {
			t.Errorf("%s is not JSON", name)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "fixtures", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		if !listed[filepath.Base(p)] {
			t.Errorf("%s is not in fixtures.sha256", filepath.Base(p))
		}
	}
	if len(listed) < 40 {
		t.Errorf("only %d fixtures listed", len(listed))
	}
}
