package deploy

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

func promtool(t *testing.T) string {
	t.Helper()
	return testutil.RequireBinary(t, "promtool (Debian package prometheus)", "promtool")
}

// TestAlertingRules checks the rules' syntax and runs their unit tests.
func TestAlertingRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "nymwatch-alerts.yml"},
		{"test", "rules", "nymwatch-alerts_test.yml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestRulesUseExportedMetrics fails when a rule names a metric nymwatch does
// not define, so a renamed metric cannot leave an alert that never fires.
func TestRulesUseExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join("prometheus", "nymwatch-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var source strings.Builder
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			source.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`\bnymwatch_[a-z_]+\b`).FindAllString(string(rules), -1)
	if len(names) < 8 {
		t.Fatalf("only %d metric names found in the rules", len(names))
	}
	for _, n := range names {
		if !strings.Contains(source.String(), `"`+n+`"`) {
			t.Errorf("the rules use %s, which no nymwatch source file defines", n)
		}
	}
}
