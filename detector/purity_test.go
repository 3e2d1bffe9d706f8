package detector

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The detector is pure logic over the times and results it is given: its
// SQL store lives in internal/detectorstore and the Alertmanager webhook's
// HTTP handler in internal/alertwebhook. It may reach net/http only through
// the probe types and client_golang, never import it itself, and no SQL
// driver may be linked through it.
func TestDetectorIsPure(t *testing.T) {
	list := func(args ...string) []string {
		t.Helper()
		out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
		if err != nil {
			t.Skipf("go list: %v", err) // no toolchain beside the test binary
		}
		return strings.Fields(string(out))
	}
	direct := list("-f", `{{join .Imports " "}}`, ".")
	for _, banned := range []string{"net/http", "database/sql", "github.com/nymwatch/nymwatch/internal/store", "github.com/nymwatch/nymwatch/internal/detectorstore", "github.com/nymwatch/nymwatch/internal/alertwebhook"} {
		if slices.Contains(direct, banned) {
			t.Errorf("detector imports %s", banned)
		}
	}
	for _, dep := range list("-deps", ".") {
		if dep == "database/sql" || strings.HasPrefix(dep, "modernc.org/sqlite") || strings.HasPrefix(dep, "github.com/jackc/pgx") ||
			strings.HasPrefix(dep, "github.com/nymwatch/nymwatch/internal/store") {
			t.Errorf("detector links %s", dep)
		}
	}
}
