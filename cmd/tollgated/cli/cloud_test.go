package cli

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
	"github.com/tollgate/tollgate/config"
)

// TestCheckIdentity: start-up logs whose credentials the daemon holds, and fails clearly
// when STS cannot be reached.
func TestCheckIdentity(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTIDENTITY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	_, url := simtest.Start(t, awssim.Options{Clock: "manual"})
	tests := []struct {
		name     string
		endpoint string
		wantErr  string // "" = success
		wantLog  string
	}{
		{name: "simulator answers", endpoint: url, wantLog: "arn=arn:aws:"},
		{name: "nothing listens", endpoint: "http://127.0.0.1:1", wantErr: "STS GetCallerIdentity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			cfg := &config.Config{AWS: config.AWS{Regions: []string{"us-west-2"}, EndpointURL: tt.endpoint}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cl, err := newCloud(ctx, cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" {
				// The SDK retries a refused connection with backoff: bound the wait.
				var stop context.CancelFunc
				ctx, stop = context.WithTimeout(ctx, 200*time.Millisecond)
				defer stop()
			}
			err = checkIdentity(ctx, cl, log)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("checkIdentity = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("checkIdentity: %v", err)
			}
			if got := buf.String(); !strings.Contains(got, tt.wantLog) || strings.Contains(got, "test-secret-not-real") {
				t.Errorf("log = %q, want it to contain %q and no secret", got, tt.wantLog)
			}
		})
	}
}
