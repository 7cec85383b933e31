package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// bins are the binaries TestMain builds, in a directory every test user can read.
var bins struct {
	dir       string
	tollgate  string
	tollgated string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// binDirEnv names a directory of prebuilt binaries to use instead of building them (for
// running the compiled test as another user, who may have no Go toolchain or cache).
const binDirEnv = "TOLLGATE_IT_BINDIR"

func run(m *testing.M) int {
	if dir := os.Getenv(binDirEnv); dir != "" {
		bins.dir = dir
		bins.tollgate = filepath.Join(dir, "tollgate")
		bins.tollgated = filepath.Join(dir, "tollgated")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "tollgate-it-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Test users (other uids) must be able to execute the binaries.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	bins.dir = dir
	bins.tollgate = filepath.Join(dir, "tollgate")
	bins.tollgated = filepath.Join(dir, "tollgated")
	cmd := exec.Command(goTool(), "build", "-o", dir+string(filepath.Separator),
		"github.com/tollgate/tollgate/cmd/tollgate", "github.com/tollgate/tollgate/cmd/tollgated")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: build the binaries: %v\n", err)
		return 1
	}
	return m.Run()
}

// goTool is the go command that runs this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// isRoot reports whether the multi-user tests can create Unix users.
func isRoot() bool { return os.Geteuid() == 0 }
