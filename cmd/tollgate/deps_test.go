package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDepsStayLean keeps the per-user CLI free of the daemon's dependencies: it speaks
// the socket API only, so it must not link the configuration decoder (TOML), the AWS
// SDK or SQLite. Every user on the host runs it, and what it does not link it cannot
// misuse.
func TestDepsStayLean(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"github.com/pelletier/go-toml",
		"github.com/aws/aws-sdk-go-v2",
		"modernc.org/sqlite",
		"github.com/tollgate/tollgate/config",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("cmd/tollgate links %s (forbidden: %s)", pkg, f)
			}
		}
	}
}
