package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// runMain runs the CLI in-process and returns its exit status and streams.
func runMain(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestMainExitCodes(t *testing.T) {
	nowhere := filepath.Join(t.TempDir(), "no.sock")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "help", args: []string{"--help"}, wantCode: ExitOK},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: ExitUsage, wantStderr: "tollgate: "},
		{name: "bad flag value", args: []string{"launch", "--count", "many"}, wantCode: ExitUsage, wantStderr: "hint: run 'tollgate launch"},
		{name: "missing argument", args: []string{"extend", "i-1"}, wantCode: ExitUsage},
		{name: "bad enum", args: []string{"admin", "report", "--by", "colour"}, wantCode: ExitUsage},
		{name: "users set without settings", args: []string{"--socket", nowhere, "admin", "users", "set", "bob"}, wantCode: ExitUsage},
		{name: "no daemon", args: []string{"--socket", nowhere, "ls"}, wantCode: ExitFailure, wantStderr: "hint: is the daemon running?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runMain(t, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantStderr)
			}
		})
	}
}

func TestSocketFromEnvironment(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "env.sock")
	t.Setenv("TOLLGATE_SOCKET", sock)
	code, _, stderr := runMain(t, "", "ls")
	if code != ExitFailure || !strings.Contains(stderr, sock) {
		t.Errorf("ls with TOLLGATE_SOCKET=%s: exit %d, stderr %q; want 1 naming the socket", sock, code, stderr)
	}
}
