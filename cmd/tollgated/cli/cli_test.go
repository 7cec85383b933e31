package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/tollgate/tollgate/awssim"
	tollgate "github.com/tollgate/tollgate/cmd/tollgate/cli"
	"github.com/tollgate/tollgate/config"
)

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestMainExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(good, []byte("[broker]\nsocket = \"/tmp/x.sock\"\n"), 0o644)
	os.WriteFile(bad, []byte("[broker]\nsocket = 3\n"), 0o644)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "help", args: []string{"--help"}, wantCode: ExitOK, wantStdout: "check-config"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: ExitUsage, wantStderr: "tollgated: "},
		{name: "check a good config", args: []string{"--config", good, "check-config"}, wantCode: ExitOK, wantStdout: "good.toml: ok"},
		{name: "check a bad config", args: []string{"--config", bad, "check-config"}, wantCode: ExitFailure, wantStderr: "bad.toml:2"},
		{name: "check a missing config", args: []string{"--config", filepath.Join(dir, "none.toml"), "check-config"}, wantCode: ExitFailure, wantStderr: "none.toml"},
		{name: "sim off loopback", args: []string{"sim", "--listen", "0.0.0.0:0"}, wantCode: ExitUsage, wantStderr: "loopback only"},
		{name: "sim bad clock", args: []string{"sim", "--clock", "sundial"}, wantCode: ExitUsage},
		{name: "report bad date", args: []string{"--config", good, "report", "--since", "last tuesday"}, wantCode: ExitUsage, wantStderr: "--since"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantStderr)
			}
		})
	}
}

func TestDevConfigLoads(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse("dev.toml", []byte(devConfig(dir, "http://127.0.0.1:1", "staff")))
	if err != nil {
		t.Fatalf("dev config does not load: %v", err)
	}
	if got, want := cfg.Broker.Socket, filepath.Join(dir, "tollgate.sock"); got != want {
		t.Errorf("socket = %q, want %q", got, want)
	}
	if got, want := cfg.AWS.EndpointURL, "http://127.0.0.1:1"; got != want {
		t.Errorf("endpoint_url = %q, want %q", got, want)
	}
	if got := cfg.Broker.AdminGroup; got != "staff" {
		t.Errorf("admin_group = %q, want staff", got)
	}
	if got := cfg.Policy.Default.Images; len(got) != 1 || got[0] != awssim.FixedImageID {
		t.Errorf("images = %v, want the simulator's %s", got, awssim.FixedImageID)
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "", want: time.Time{}},
		{in: "2026-02-01", want: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026-02-01T10:00:00Z", want: time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)},
		{in: "02/01/2026", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDate(tt.in)
			if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
				t.Errorf("parseDate(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestDev runs `tollgated dev` in-process, drives it with the tollgate CLI through the
// socket it prints, and checks that stopping it removes its directory.
func TestDev(t *testing.T) {
	// dev sets fake credentials in the process environment; restore them afterwards.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("TMPDIR", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"dev"}, Stdio{In: strings.NewReader(""), Out: pw, Err: &lockedWriter{w: &errb}})
		pw.Close()
	}()
	socket, simURL := "", ""
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if _, u, ok := strings.Cut(line, "(awssim at "); ok {
			simURL = strings.TrimSuffix(u, ")")
		}
		if s, ok := strings.CutPrefix(line, "export TOLLGATE_SOCKET="); ok {
			socket = s
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if socket == "" {
		cancel()
		t.Fatalf("dev printed no TOLLGATE_SOCKET line (exit %d)", <-done)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	cli := func(args ...string) (int, string, string) {
		var out, e bytes.Buffer
		code := tollgate.Main(ctx, append([]string{"--socket", socket}, args...), tollgate.Stdio{In: strings.NewReader(""), Out: &out, Err: &e})
		return code, out.String(), e.String()
	}
	for _, args := range [][]string{{"whoami"}, {"keys", "ssh"}, {"launch", "--name", "dev-test"}, {"admin", "instances", "ls"}} {
		if code, out, e := cli(args...); code != 0 {
			t.Fatalf("tollgate %v: exit %d\n%s%s", args, code, out, e)
		}
	}
	if _, out, _ := cli("ls"); !strings.Contains(out, "dev-test") {
		t.Errorf("ls = %q, want the launched dev-test instance", out)
	}
	checkDevSimAuth(t, simURL, filepath.Join(filepath.Dir(socket), devControlTokenFile))
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("dev exit = %d, want 0; its log:\n%s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Dir(socket)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dev left %s behind (stat err %v)", filepath.Dir(socket), err)
	}
}

// lockedWriter serialises writes: the simulator's and the daemon's loggers write from
// several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// checkDevSimAuth checks that dev's simulator serves IAM, STS and its control paths only
// to the run's key (which dev put in this process's environment) and, for control, to
// the token in tokenFile.
func checkDevSimAuth(t *testing.T, simURL, tokenFile string) {
	t.Helper()
	if simURL == "" {
		t.Fatal("dev printed no 'awssim at URL' line")
	}
	ctx := context.Background()
	cfg := func(akid string) aws.Config {
		return aws.Config{Region: "us-west-2", BaseEndpoint: aws.String(simURL),
			Credentials: credentials.NewStaticCredentialsProvider(akid, "not-the-secret", "")}
	}
	runKey := os.Getenv("AWS_ACCESS_KEY_ID")
	if _, err := iam.NewFromConfig(cfg(runKey)).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Errorf("IAM with the run's key: %v", err)
	}
	var ae smithy.APIError
	if _, err := iam.NewFromConfig(cfg("AKIDOTHERUSER")).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("mallory")}); !errors.As(err, &ae) || ae.ErrorCode() != "InvalidClientTokenId" {
		t.Errorf("IAM CreateUser with another key: got %v, want InvalidClientTokenId", err)
	}
	if _, err := sts.NewFromConfig(cfg("AKIDOTHERUSER")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); !errors.As(err, &ae) || ae.ErrorCode() != "InvalidClientTokenId" {
		t.Errorf("STS with another key: got %v, want InvalidClientTokenId", err)
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatalf("control token: %v", err)
	}
	if fi, err := os.Stat(tokenFile); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("control token file mode = %v, want 0600", fi.Mode().Perm())
	}
	for _, tt := range []struct {
		name, auth string
		want       int
	}{
		{"unsigned", "", http.StatusForbidden},
		{"the token file", "Bearer " + strings.TrimSpace(string(tok)), http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodPost, simURL+"/_sim/faults", strings.NewReader(`{"latency":0}`))
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("control %s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("POST /_sim/faults %s: got %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
}
