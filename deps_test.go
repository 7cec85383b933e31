package tollgate_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryDeps keeps heavy or test-only packages out of the binaries: the daemon must
// not link package testing (a test helper in a non-test file pulls it in, with its
// flags), and the per-user CLI, which only speaks the socket API and which every user on
// the host runs, must not link the configuration decoder (TOML), the AWS SDK or SQLite:
// what it does not link it cannot misuse.
func TestBinaryDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the binaries' dependencies: %v", err)
	}
	tests := []struct {
		pkg       string
		forbidden []string // import paths; a path forbids its subpackages too
	}{
		{"./cmd/tollgated", []string{"testing"}},
		{"./cmd/tollgate", []string{"testing", "github.com/pelletier/go-toml", "github.com/aws/aws-sdk-go-v2",
			"modernc.org/sqlite", "github.com/tollgate/tollgate/config"}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.pkg, "./"), func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(goBin, "list", "-deps", tt.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tt.pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, f := range tt.forbidden {
					if dep == f || strings.HasPrefix(dep, f+"/") {
						t.Errorf("%s links %s; it must not link %s", tt.pkg, dep, f)
					}
				}
			}
		})
	}
}
