package softhsmtests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebianPackage builds the package with deploy/debian/build.sh,
// installs it with dpkg -i, runs the installed binary, checks the user and
// the modes postinst promises, and purges it. It changes the machine, so
// it runs only as root and only where no strongroom package or user exists
// yet; it always purges what it installed.
func TestDebianPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("installs a package: needs root")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "adduser"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "strongroom").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Skip("a strongroom package is installed on this machine already; not touching it")
	}
	if exec.Command("getent", "passwd", "strongroom").Run() == nil {
		t.Skip("a strongroom user exists on this machine already; not touching it")
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	root := devRepoRoot(t)
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(mctx(t), name, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "STRONGROOM_BIN="+bin, "VERSION=0.0.0~test")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	deb := run("bash", "deploy/debian/build.sh", t.TempDir())
	if filepath.Ext(deb) != ".deb" {
		t.Fatalf("build.sh printed %q", deb)
	}
	contents := run("dpkg-deb", "-c", deb)
	for _, want := range []string{"./usr/bin/strongroom", "./lib/systemd/system/strongroom.service", "./etc/strongroom/strongroom.json"} {
		if !strings.Contains(contents, want) {
			t.Errorf("package lacks %s:\n%s", want, contents)
		}
	}

	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--purge", "strongroom").CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge strongroom: %v\n%s", err, out)
		}
		if exec.Command("getent", "passwd", "strongroom").Run() == nil {
			t.Error("the strongroom user is still there after purge")
		}
		if _, err := os.Stat("/usr/bin/strongroom"); err == nil {
			t.Error("/usr/bin/strongroom is still there after purge")
		}
	})
	run("dpkg", "-i", deb)
	if v := run("/usr/bin/strongroom", "--version"); !strings.Contains(v, "strongroom") {
		t.Errorf("strongroom --version: %q", v)
	}
	run("getent", "passwd", "strongroom")
	for path, want := range map[string]string{
		"/etc/strongroom":                 "750 root strongroom",
		"/etc/strongroom/strongroom.json": "640 root strongroom",
		"/var/lib/strongroom":             "750 strongroom strongroom",
	} {
		if got := run("stat", "-c", "%a %U %G", path); got != want {
			t.Errorf("%s: mode and owner %q, want %q", path, got, want)
		}
	}
}
