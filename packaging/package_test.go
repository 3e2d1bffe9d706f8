package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

func need(t *testing.T, bins ...string) {
	t.Helper()
	for _, b := range bins {
		testutil.RequireBinary(t, b, b)
	}
}

func sh(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDebianPackage builds the package as scripts/package does, checks its
// metadata and contents, installs it with dpkg into a throwaway root and
// runs the installed binary on the shipped configuration.
func TestDebianPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nfpm and nymwatch")
	}
	need(t, "dpkg", "dpkg-deb", "git")
	version, err := os.ReadFile("../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(version))
	dist := t.TempDir()
	out := sh(t, "..", []string{"DIST=" + dist}, "bash", "scripts/package", "amd64")
	deb := filepath.Join(dist, "nymwatch_"+v+"_amd64.deb")
	if !strings.Contains(out, deb) {
		t.Fatalf("scripts/package printed %q, want %s", out, deb)
	}

	info := sh(t, "", nil, "dpkg-deb", "--info", deb)
	for _, want := range []string{"Package: nymwatch", "Version: " + v, "Architecture: amd64", "conffiles", "postinst"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	contents := sh(t, "", nil, "dpkg-deb", "--contents", deb)
	for _, want := range []string{"./usr/bin/nymwatch", "./usr/lib/systemd/system/nymwatch.service", "./etc/nymwatch/nymwatch.yml",
		"./usr/share/doc/nymwatch/example.yaml", "./usr/share/nymwatch/prometheus/nymwatch-alerts.yml"} {
		if !strings.Contains(contents, want) {
			t.Errorf("package lacks %s:\n%s", want, contents)
		}
	}

	// dpkg --root into a fresh root; the maintainer scripts run outside
	// the chroot (it has no shell) and, seeing DPKG_ROOT, leave this
	// system's systemd alone.
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	install := sh(t, "", nil, "dpkg", "--root="+root, "--force-script-chrootless", "--force-not-root", "-i", deb)
	if !strings.Contains(install, "Setting up nymwatch ("+v+")") {
		t.Errorf("dpkg -i did not configure the package:\n%s", install)
	}
	status, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "Status: install ok installed") {
		t.Errorf("dpkg status after install:\n%s", status)
	}
	conffiles, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/info/nymwatch.conffiles"))
	if err != nil || strings.TrimSpace(string(conffiles)) != "/etc/nymwatch/nymwatch.yml" {
		t.Errorf("conffiles = %q, %v; want /etc/nymwatch/nymwatch.yml", conffiles, err)
	}
	unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/nymwatch.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/bin/nymwatch run") || strings.Contains(string(unit), "/usr/local/bin") {
		t.Errorf("the packaged unit does not run /usr/bin/nymwatch:\n%s", unit)
	}
	// Nothing enables or starts the service: no wants/ symlink appears.
	if _, err := os.Stat(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/nymwatch.service")); err == nil {
		t.Error("the package enabled the service before it is configured")
	}

	bin := filepath.Join(root, "usr/bin/nymwatch")
	ver := sh(t, "", nil, bin, "--version")
	rev := strings.TrimSpace(sh(t, "..", nil, "git", "rev-parse", "HEAD"))
	if !strings.Contains(ver, "version "+v) || !strings.Contains(ver, rev) {
		t.Errorf("nymwatch --version = %q, want version %s and revision %s", ver, v, rev)
	}
	check := sh(t, "", nil, bin, "check-config", "--config", filepath.Join(root, "etc/nymwatch/nymwatch.yml"))
	if !strings.HasSuffix(strings.TrimSpace(check), ": OK") {
		t.Errorf("check-config of the shipped configuration: %q", check)
	}
}
