package awssim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
)

// awsCLI runs the official AWS CLI against one simulator with its own empty
// configuration, signed with one key.
type awsCLI struct {
	bin string
	url string
	env []string
	sim *awssim.Sim
}

// newAWSCLI serves a simulator restricted to one key (as `tollgated dev` runs it) on
// loopback and returns a runner of the CLI installed on this machine. The test fails,
// not skips, without the CLI: CI installs it (.ci/run).
func newAWSCLI(t *testing.T) *awsCLI {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the AWS CLI (aws) is not installed; install it (Debian: apt-get install awscli) to run this test: %v", err)
	}
	const akid, secret = "AKIDAWSCLITEST", "awscli-test-secret"
	srv, sim, err := awssim.Start("127.0.0.1:0", awssim.Options{AccessKeyIDs: []string{akid}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dir := t.TempDir()
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_ACCESS_KEY_ID=" + akid,
		"AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"AWS_RETRY_MODE=standard",
		"AWS_MAX_ATTEMPTS=2",
	}
	// pyenv's shims need their root to find the real CLI.
	for _, k := range []string{"PYENV_ROOT", "PYENV_VERSION"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return &awsCLI{bin: bin, url: srv.URL, env: env, sim: sim}
}

// run runs `aws ARGS --output json` and decodes its output into out (nil: ignored).
func (a *awsCLI) run(t *testing.T, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string{"--endpoint-url", a.url, "--region", "us-west-2", "--output", "json"}, args...)
	cmd := exec.CommandContext(ctx, a.bin, args...)
	cmd.Env = a.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws %s: %v\nstdout: %s\nstderr: %s", strings.Join(args[6:], " "), err, redact(stdout.String()), stderr.String())
	}
	if out == nil {
		return
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args[6:], " "), err, redact(stdout.String()))
	}
}

// secretField matches a secret in the CLI's JSON output (create-access-key's).
var secretField = regexp.MustCompile(`("SecretAccessKey"\s*:\s*)"[^"]*"`)

// redact hides secrets in output about to be shown in a failure message.
func redact(out string) string { return secretField.ReplaceAllString(out, `$1"(redacted)"`) }

type cliTag struct{ Key, Value string }

type cliInstance struct {
	InstanceID   string `json:"InstanceId"`
	ImageID      string `json:"ImageId"`
	InstanceType string
	State        struct {
		Name string
		Code int
	}
	LaunchTime string
	Placement  struct{ AvailabilityZone string }
	Tags       []cliTag
}

func tagValue(tags []cliTag, key string) string {
	for _, t := range tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// TestAWSCLI drives the simulator with the official AWS CLI: every call tollgate makes,
// parsed by botocore rather than by the Go SDK. Whatever the CLI cannot parse is a wire
// bug in the simulator. Each CLI start costs about a second of CPU, so the calls run in
// a few parallel chains and none is spent on what the Go SDK tests already cover.
func TestAWSCLI(t *testing.T) {
	a := newAWSCLI(t)
	t.Run("ec2 instances", func(t *testing.T) {
		t.Parallel()
		var run struct {
			Instances []cliInstance
		}
		a.run(t, &run, "ec2", "run-instances", "--image-id", awssim.FixedImageID, "--instance-type", "t3.micro",
			"--count", "2", "--client-token", "awscli-1",
			"--tag-specifications", "ResourceType=instance,Tags=[{Key=tollgate:owner,Value=alice},{Key=Name,Value=cli}]")
		if len(run.Instances) != 2 {
			t.Fatalf("run-instances: %d instances, want 2", len(run.Instances))
		}
		for _, in := range run.Instances {
			if !strings.HasPrefix(in.InstanceID, "i-") || in.State.Name != "pending" || in.State.Code != 0 ||
				in.InstanceType != "t3.micro" || in.ImageID != awssim.FixedImageID || in.LaunchTime == "" ||
				!strings.HasPrefix(in.Placement.AvailabilityZone, "us-west-2") {
				t.Errorf("run-instances: got %+v", in)
			}
			if got := tagValue(in.Tags, "tollgate:owner"); got != "alice" {
				t.Errorf("run-instances %s: owner tag %q, want alice", in.InstanceID, got)
			}
		}
		id0, id1 := run.Instances[0].InstanceID, run.Instances[1].InstanceID
		a.sim.Advance(time.Minute)

		var desc struct {
			Reservations []struct {
				ReservationID string `json:"ReservationId"`
				OwnerID       string `json:"OwnerId"`
				Instances     []cliInstance
			}
		}
		a.run(t, &desc, "ec2", "describe-instances", "--filters", "Name=tag:tollgate:owner,Values=alice", "Name=instance-state-name,Values=running")
		got := map[string]cliInstance{}
		for _, r := range desc.Reservations {
			if !strings.HasPrefix(r.ReservationID, "r-") || r.OwnerID == "" {
				t.Errorf("describe-instances: reservation %q owner %q", r.ReservationID, r.OwnerID)
			}
			for _, in := range r.Instances {
				got[in.InstanceID] = in
			}
		}
		if len(got) != 2 || got[id0].State.Name != "running" || got[id0].State.Code != 16 || tagValue(got[id1].Tags, "Name") != "cli" {
			t.Fatalf("describe-instances: got %+v, want %s and %s running with their tags", got, id0, id1)
		}

		type change struct {
			InstanceID    string `json:"InstanceId"`
			CurrentState  struct{ Name string }
			PreviousState struct{ Name string }
		}
		var stop struct{ StoppingInstances []change }
		a.run(t, &stop, "ec2", "stop-instances", "--instance-ids", id0)
		if len(stop.StoppingInstances) != 1 || stop.StoppingInstances[0].InstanceID != id0 ||
			stop.StoppingInstances[0].PreviousState.Name != "running" || stop.StoppingInstances[0].CurrentState.Name != "stopping" {
			t.Errorf("stop-instances: got %+v", stop)
		}
		var term struct{ TerminatingInstances []change }
		a.run(t, &term, "ec2", "terminate-instances", "--instance-ids", id0, id1)
		if len(term.TerminatingInstances) != 2 {
			t.Fatalf("terminate-instances: got %+v", term)
		}
		for _, c := range term.TerminatingInstances {
			if c.CurrentState.Name != "shutting-down" {
				t.Errorf("terminate-instances %s: now %q, want shutting-down", c.InstanceID, c.CurrentState.Name)
			}
		}
	})
	t.Run("ec2 images", func(t *testing.T) {
		t.Parallel()
		var out struct {
			Images []struct {
				ImageID        string `json:"ImageId"`
				Name           string
				State          string
				Architecture   string
				RootDeviceName string
				CreationDate   string
			}
		}
		a.run(t, &out, "ec2", "describe-images", "--image-ids", awssim.FixedImageID)
		if len(out.Images) != 1 || out.Images[0].ImageID != awssim.FixedImageID || out.Images[0].State != "available" ||
			out.Images[0].Architecture == "" || out.Images[0].RootDeviceName == "" || out.Images[0].Name == "" {
			t.Errorf("describe-images: got %+v", out)
		}
	})
	t.Run("ec2 key pairs", func(t *testing.T) {
		t.Parallel()
		const pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBzHGHPKsXX8N3x1mRQ0e3nAPFFp4B3ymRN8GeC+dwLJ alice@host"
		var imp struct {
			KeyName        string
			KeyPairID      string `json:"KeyPairId"`
			KeyFingerprint string
		}
		a.run(t, &imp, "ec2", "import-key-pair", "--key-name", "alice", "--public-key-material", "fileb://"+writeTemp(t, pub))
		if imp.KeyName != "alice" || !strings.HasPrefix(imp.KeyPairID, "key-") || imp.KeyFingerprint == "" {
			t.Errorf("import-key-pair: got %+v", imp)
		}
		var desc struct {
			KeyPairs []struct {
				KeyName        string
				KeyPairID      string `json:"KeyPairId"`
				KeyFingerprint string
				KeyType        string
			}
		}
		a.run(t, &desc, "ec2", "describe-key-pairs", "--key-names", "alice")
		if len(desc.KeyPairs) != 1 || desc.KeyPairs[0].KeyPairID != imp.KeyPairID || desc.KeyPairs[0].KeyFingerprint != imp.KeyFingerprint {
			t.Errorf("describe-key-pairs: got %+v, want the imported %+v", desc, imp)
		}
	})
	t.Run("iam users and keys", func(t *testing.T) {
		t.Parallel()
		var user struct {
			User struct {
				UserName, Path, Arn string
				UserID              string `json:"UserId"`
			}
		}
		a.run(t, &user, "iam", "create-user", "--user-name", "tg-alice", "--path", "/tollgate/")
		if user.User.UserName != "tg-alice" || user.User.Path != "/tollgate/" || !strings.HasSuffix(user.User.Arn, ":user/tollgate/tg-alice") || user.User.UserID == "" {
			t.Errorf("create-user: got %+v", user)
		}
		a.run(t, nil, "iam", "create-user", "--user-name", "outsider")
		var list struct{ Users []struct{ UserName string } }
		a.run(t, &list, "iam", "list-users", "--path-prefix", "/tollgate/")
		if len(list.Users) != 1 || list.Users[0].UserName != "tg-alice" {
			t.Errorf("list-users --path-prefix /tollgate/: got %+v, want tg-alice only", list)
		}
		a.run(t, nil, "iam", "put-user-policy", "--user-name", "tg-alice", "--policy-name", "tollgate",
			"--policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`)
		var key struct {
			AccessKey struct {
				UserName        string
				AccessKeyID     string `json:"AccessKeyId"`
				SecretAccessKey string
				Status          string
			}
		}
		a.run(t, &key, "iam", "create-access-key", "--user-name", "tg-alice")
		if key.AccessKey.UserName != "tg-alice" || key.AccessKey.AccessKeyID == "" || key.AccessKey.SecretAccessKey == "" || key.AccessKey.Status != "Active" {
			// Not %+v: the output holds a secret.
			t.Errorf("create-access-key: user %q, id %q, status %q, secret set %v", key.AccessKey.UserName,
				key.AccessKey.AccessKeyID, key.AccessKey.Status, key.AccessKey.SecretAccessKey != "")
		}
		var keys struct {
			AccessKeyMetadata []struct {
				UserName    string
				AccessKeyID string `json:"AccessKeyId"`
				Status      string
			}
		}
		a.run(t, &keys, "iam", "list-access-keys", "--user-name", "tg-alice")
		if len(keys.AccessKeyMetadata) != 1 || keys.AccessKeyMetadata[0].AccessKeyID != key.AccessKey.AccessKeyID || keys.AccessKeyMetadata[0].Status != "Active" {
			t.Errorf("list-access-keys: got %+v, want %s", keys, key.AccessKey.AccessKeyID)
		}
		a.run(t, nil, "iam", "delete-access-key", "--user-name", "tg-alice", "--access-key-id", key.AccessKey.AccessKeyID)
		a.run(t, nil, "iam", "delete-user-policy", "--user-name", "tg-alice", "--policy-name", "tollgate")
		a.run(t, nil, "iam", "delete-user", "--user-name", "tg-alice")
	})
	t.Run("sts", func(t *testing.T) {
		t.Parallel()
		var who struct {
			UserID  string `json:"UserId"`
			Account string
			Arn     string
		}
		a.run(t, &who, "sts", "get-caller-identity")
		if who.Account == "" || !strings.HasPrefix(who.Arn, "arn:aws:iam::"+who.Account+":") || who.UserID == "" {
			t.Errorf("get-caller-identity: got %+v", who)
		}
	})
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRedact(t *testing.T) {
	in := `{"AccessKey": {"AccessKeyId": "AKIDX", "SecretAccessKey": "s3cr3t/+x", "Status": "Active"}}`
	got := redact(in)
	if strings.Contains(got, "s3cr3t") || !strings.Contains(got, `"AccessKeyId": "AKIDX"`) {
		t.Errorf("redact(%q) = %q", in, got)
	}
}
