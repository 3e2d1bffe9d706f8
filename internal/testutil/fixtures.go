package testutil

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FixtureDir is where the one copy of the Nym API example responses lives,
// relative to the module root, with its checksum manifest next to it
// (FixtureDir + ".sha256"). probes owns it: it holds the superset and the
// test that checks the whole manifest (TestFixturesMatchTheReferenceCopies).
const FixtureDir = "probes/testdata/fixtures"

// ModuleRoot returns the directory holding go.mod, found upwards from the
// test's working directory (a package directory under go test).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// FixturePath returns the path of the fixture file name.
func FixturePath(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(ModuleRoot(t), FixtureDir, name)
}

// Fixture returns the Nym API fixture name (e.g.
// "nym-api_v1_nym-nodes_bonded.json"), failing the test unless its bytes
// match the manifest: a fixture edited by hand drifts from the real shapes,
// whichever package's test reads it.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	root := ModuleRoot(t)
	sums, err := readManifest(filepath.Join(root, FixtureDir+".sha256"))
	if err != nil {
		t.Fatalf("fixture manifest: %v", err)
	}
	want, ok := sums[name]
	if !ok {
		t.Fatalf("fixture %s is not in the manifest %s.sha256", name, FixtureDir)
	}
	b, err := os.ReadFile(filepath.Join(root, FixtureDir, name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != want {
		t.Fatalf("fixture %s differs from the reference copy (manifest %s.sha256)", name, FixtureDir)
	}
	return b
}

// FixtureManifest returns the manifest: file name → hex SHA-256.
func FixtureManifest(t testing.TB) map[string]string {
	t.Helper()
	sums, err := readManifest(filepath.Join(ModuleRoot(t), FixtureDir+".sha256"))
	if err != nil {
		t.Fatalf("fixture manifest: %v", err)
	}
	return sums
}

// readManifest parses sha256sum output: "HEX  NAME" per line.
func readManifest(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != sha256.Size*2 || name == "" {
			return nil, fmt.Errorf("%s:%d: not a sha256sum line: %q", path, n, sc.Text())
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(sums) == 0 {
		return nil, errors.New(path + ": empty")
	}
	return sums, nil
}
