package cloud_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
	"github.com/tollgate/tollgate/cloud"
)

// TestCredentialSources checks which access key signs requests for each combination of
// AWS_*, EC2_* and a profile, by reading the Credential= of the Authorization header
// awssim receives.
func TestCredentialSources(t *testing.T) {
	const profileKeyID = "AKIATESTPROFILE00001"
	tests := []struct {
		name    string
		env     map[string]string
		profile bool // write a shared credentials file with profile "tg" and select it
		want    string
	}{
		{"aws env", map[string]string{"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret}, false, testKeyID},
		{"gbrowse env", map[string]string{"EC2_ACCESS_KEY": gbrowseKeyID, "EC2_SECRET_KEY": gbrowseSecret}, false, gbrowseKeyID},
		{"aws env wins over gbrowse", map[string]string{
			"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret,
			"EC2_ACCESS_KEY": gbrowseKeyID, "EC2_SECRET_KEY": gbrowseSecret}, false, testKeyID},
		{"profile wins over gbrowse", map[string]string{"EC2_ACCESS_KEY": gbrowseKeyID, "EC2_SECRET_KEY": gbrowseSecret}, true, profileKeyID},
		{"AWS_PROFILE wins over gbrowse", map[string]string{
			"AWS_PROFILE": "tg", "EC2_ACCESS_KEY": gbrowseKeyID, "EC2_SECRET_KEY": gbrowseSecret}, true, profileKeyID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var mod []func(*cloud.Config)
			if tt.profile {
				file := filepath.Join(t.TempDir(), "credentials")
				body := fmt.Sprintf("[tg]\naws_access_key_id = %s\naws_secret_access_key = profileSECRET\n", profileKeyID)
				if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
				if tt.env["AWS_PROFILE"] == "" {
					mod = append(mod, func(c *cloud.Config) { c.Profile = "tg" })
				}
			}
			f := setupEnv(t, mod...)
			creds, err := f.c.AWSConfig().Credentials.Retrieve(f.ctx)
			if err != nil {
				t.Fatalf("retrieve credentials: %v", err)
			}
			if creds.AccessKeyID != tt.want {
				t.Errorf("credentials access key id = %q, want %q", creds.AccessKeyID, tt.want)
			}
			if _, err := f.c.DescribeInstances(f.ctx, west, cloud.Filter{}); err != nil {
				t.Fatalf("DescribeInstances: %v", err)
			}
			seen := f.tr.seenKeyIDs()
			if len(seen) != 1 || seen[tt.want] == 0 {
				t.Errorf("requests were signed by %v, want only %s", seen, tt.want)
			}
		})
	}
}

func TestCredentialErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"gbrowse id without secret", map[string]string{"EC2_ACCESS_KEY": gbrowseKeyID}, "EC2_SECRET_KEY is not"},
		{"gbrowse secret without id", map[string]string{"EC2_SECRET_KEY": gbrowseSecret}, "EC2_ACCESS_KEY is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := cloud.New(context.Background(), cloud.Config{Regions: []string{west}}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), gbrowseSecret) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestNewNeedsARegion(t *testing.T) {
	clearEnv(t)
	if _, err := cloud.New(context.Background(), cloud.Config{}, nil); err == nil {
		t.Errorf("New with no region anywhere succeeded, want an error")
	}
	t.Setenv("AWS_REGION", "eu-west-3")
	c, err := cloud.New(context.Background(), cloud.Config{}, nil)
	if err != nil {
		t.Fatalf("New with AWS_REGION: %v", err)
	}
	if got, want := strings.Join(c.Regions(), ","), "eu-west-3"; got != want {
		t.Errorf("Regions() = %s, want %s", got, want)
	}
}

// TestEndpointFromEnvironment checks that AWS_ENDPOINT_URL, honoured by the SDK itself,
// points the client at awssim when the config names no endpoint.
func TestEndpointFromEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	sim, url := simtest.Start(t, awssim.Options{})
	t.Setenv("AWS_ENDPOINT_URL", url)
	c, err := cloud.New(context.Background(), cloud.Config{Regions: []string{west}}, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := c.RunInstances(context.Background(), cloud.RunInput{Region: west, ImageID: awssim.FixedImageID, Type: "t3.micro"}); err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	if got := len(sim.Instances(west)); got != 1 {
		t.Errorf("awssim holds %d instances, want 1", got)
	}
}

// TestSecretNeverLogged drives every kind of call, including failures and throttled
// retries, with debug logging on, and looks for either secret in the log and errors.
func TestSecretNeverLogged(t *testing.T) {
	for _, src := range []struct{ name, idVar, secretVar, id, secret string }{
		{"aws env", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", testKeyID, testSecret},
		{"gbrowse env", "EC2_ACCESS_KEY", "EC2_SECRET_KEY", gbrowseKeyID, gbrowseSecret},
	} {
		t.Run(src.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(src.idVar, src.id)
			t.Setenv(src.secretVar, src.secret)
			f := setupEnv(t)
			f.tr.advance = 500 * time.Millisecond
			f.sim.SetFaults(awssim.Faults{Seed: 1, Throttle: true, Buckets: smallBuckets(),
				ErrorRate: map[string]float64{"*": 0.2}})
			var errs []string
			note := func(err error) {
				if err != nil {
					errs = append(errs, err.Error())
				}
			}
			insts, err := f.c.RunInstances(f.ctx, cloud.RunInput{Region: west, ImageID: awssim.FixedImageID, Type: "t3.micro", Owner: "alice"})
			note(err)
			_, err = f.c.RunInstances(f.ctx, cloud.RunInput{Region: west, ImageID: "ami-0000000000000dead", Type: "t3.micro"})
			note(err)
			for range 10 {
				_, err = f.c.DescribeInstances(f.ctx, west, cloud.Filter{States: []string{"pending"}})
				note(err)
			}
			_, err = f.c.ImportKeyPair(f.ctx, west, "k", testPublicKey(t))
			note(err)
			_, err = f.c.StopInstances(f.ctx, west, []string{"i-0123456789abcdef0"})
			note(err)
			_, err = f.c.TerminateInstances(f.ctx, west, ids(insts))
			note(err)

			logs := f.log.String()
			if !strings.Contains(logs, "level=DEBUG") {
				t.Fatalf("no debug lines logged; the test would prove nothing:\n%s", logs)
			}
			if !strings.Contains(logs, src.id) {
				t.Errorf("the access key id %s is not logged at start-up; operators need to see which key is used", src.id)
			}
			if strings.Contains(logs, src.secret) {
				t.Errorf("the secret appears in the log")
			}
			for _, e := range errs {
				if strings.Contains(e, src.secret) {
					t.Errorf("the secret appears in error %q", e)
				}
			}
			if len(errs) < 2 {
				t.Errorf("only %d calls failed; want the deliberate failures too", len(errs))
			}
		})
	}
}
