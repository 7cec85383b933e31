package awssim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
)

// knower is a mounted service that vouches for one access key, as an IAM that issued it.
type knower struct{ key string }

func (k knower) ServeQuery(w http.ResponseWriter, r *http.Request, service, region, akid, action string, form url.Values) {
	w.WriteHeader(http.StatusNotImplemented)
}
func (k knower) KnowsKey(id string) bool { return id == k.key }

// TestAccessKeyIDs is the review's finding #11: a simulator restricted to some access key
// ids refuses EC2 requests signed with any other.
func TestAccessKeyIDs(t *testing.T) {
	sim, u := simtest.Start(t, awssim.Options{AccessKeyIDs: []string{"AKIDDAEMON"}})
	sim.Mount("students", knower{key: "AKIDSTUDENT"})
	cfg := func(akid string) aws.Config {
		return aws.Config{Region: "us-west-2", BaseEndpoint: aws.String(u),
			Credentials: credentials.NewStaticCredentialsProvider(akid, "secret", ""),
			Retryer:     transportRetryer}
	}
	ctx := context.Background()
	tests := []struct {
		name string
		akid string
		want string // "" = served
	}{
		{"the daemon's key", "AKIDDAEMON", ""},
		{"a key a mounted service knows", "AKIDSTUDENT", ""},
		{"any other key", "AKIDOTHER", "AuthFailure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ec2.NewFromConfig(cfg(tt.akid)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			if tt.want == "" {
				if err != nil {
					t.Errorf("got %v, want served", err)
				}
				return
			}
			wantCode(t, err, tt.want, http.StatusUnauthorized)
		})
	}
	t.Run("unrestricted by default", func(t *testing.T) {
		_, u := simtest.Start(t, awssim.Options{})
		c := cfg("AKIDANY")
		c.BaseEndpoint = aws.String(u)
		if _, err := ec2.NewFromConfig(c).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
			t.Errorf("got %v, want served", err)
		}
	})
}

// TestEveryServiceNeedsTheKey: with access keys configured (as `tollgated dev` runs
// it), IAM, STS and the /_sim/ control paths refuse other keys and unsigned requests as
// AWS does, and serve the configured key; EC2 and STS also serve a key the simulated IAM
// issued, IAM does not.
func TestEveryServiceNeedsTheKey(t *testing.T) {
	const daemon, secret = "AKIDDAEMON", "daemon-secret"
	token := awssim.ControlTokenFor(secret)
	_, u := simtest.Start(t, awssim.Options{AccessKeyIDs: []string{daemon}, ControlToken: token})
	ctx := context.Background()
	cfg := func(akid, secret string) aws.Config {
		return aws.Config{Region: "us-west-2", BaseEndpoint: aws.String(u),
			Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""),
			Retryer:     transportRetryer}
	}
	// A key the simulated IAM issued (a student's `tollgate keys aws` key).
	admin := iam.NewFromConfig(cfg(daemon, secret))
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Path: aws.String("/tollgate/")}); err != nil {
		t.Fatalf("CreateUser with the configured key: %v", err)
	}
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatalf("CreateAccessKey with the configured key: %v", err)
	}
	issued, issuedSecret := aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)

	calls := []struct {
		service string
		call    func(c aws.Config) error
		refused string // code for a key the simulator does not know
		status  int
		issued  string // code for the IAM-issued key, "" = served
	}{
		{"ec2", func(c aws.Config) error {
			_, err := ec2.NewFromConfig(c).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			return err
		}, "AuthFailure", http.StatusUnauthorized, ""},
		{"iam", func(c aws.Config) error {
			_, err := iam.NewFromConfig(c).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
			if err == nil {
				_, err = iam.NewFromConfig(c).ListUsers(ctx, &iam.ListUsersInput{})
			}
			return err
		}, "InvalidClientTokenId", http.StatusForbidden, "AccessDenied"},
		{"sts", func(c aws.Config) error {
			_, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}, "InvalidClientTokenId", http.StatusForbidden, ""},
	}
	for _, c := range calls {
		t.Run(c.service+"/another key", func(t *testing.T) {
			wantCode(t, c.call(cfg("AKIDOTHER", "other")), c.refused, c.status)
		})
		t.Run(c.service+"/the configured key", func(t *testing.T) {
			if err := c.call(cfg(daemon, secret)); err != nil {
				t.Errorf("got %v, want served", err)
			}
		})
		t.Run(c.service+"/an IAM-issued key", func(t *testing.T) {
			err := c.call(cfg(issued, issuedSecret))
			if c.issued == "" {
				if err != nil {
					t.Errorf("got %v, want served", err)
				}
				return
			}
			wantCode(t, err, c.issued, http.StatusForbidden)
		})
	}

	t.Run("unsigned IAM call", func(t *testing.T) {
		resp, err := http.PostForm(u+"/", url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {"mallory"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "<Code>AuthFailure</Code>") {
			t.Errorf("got %d %s, want 401 AuthFailure", resp.StatusCode, body)
		}
		if _, err := admin.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("mallory")}); err == nil {
			t.Errorf("an unsigned CreateUser created a user")
		}
	})

	control := func(t *testing.T, method, path string, auth func(*http.Request)) int {
		t.Helper()
		body := ""
		if method == http.MethodPost {
			body = `{"seed":1}` // no fault: other subtests keep working
		}
		req, err := http.NewRequest(method, u+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		auth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	sign := func(akid, secret string) func(*http.Request) {
		return func(req *http.Request) {
			sum := sha256.Sum256(nil)
			if req.Body != nil {
				b, _ := io.ReadAll(req.Body)
				sum = sha256.Sum256(b)
				req.Body = io.NopCloser(bytes.NewReader(b))
			}
			err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
				req, hex.EncodeToString(sum[:]), "ec2", "us-west-2", time.Now())
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	bearer := func(tok string) func(*http.Request) {
		return func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+tok) }
	}
	for _, tt := range []struct {
		name string
		auth func(*http.Request)
		want int
	}{
		{"unsigned", func(*http.Request) {}, http.StatusForbidden},
		{"another key", sign("AKIDOTHER", "other"), http.StatusForbidden},
		{"an IAM-issued key", sign(issued, issuedSecret), http.StatusForbidden},
		{"a wrong token", bearer(awssim.ControlTokenFor("other")), http.StatusForbidden},
		{"an empty token", bearer(""), http.StatusForbidden},
		{"the configured key", sign(daemon, secret), http.StatusOK},
		{"the control token", bearer(token), http.StatusOK},
	} {
		t.Run("control/"+tt.name, func(t *testing.T) {
			for _, p := range []struct{ method, path string }{
				{http.MethodGet, "/_sim/clock"}, {http.MethodGet, "/_sim/ledger"}, {http.MethodPost, "/_sim/faults"},
			} {
				if got := control(t, p.method, p.path, tt.auth); got != tt.want {
					t.Errorf("%s %s: got %d, want %d", p.method, p.path, got, tt.want)
				}
			}
		})
	}

	t.Run("unrestricted without keys", func(t *testing.T) {
		_, u := simtest.Start(t, awssim.Options{})
		c := cfg("AKIDANY", "any")
		c.BaseEndpoint = aws.String(u)
		if _, err := iam.NewFromConfig(c).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
			t.Errorf("IAM: got %v, want served", err)
		}
		if _, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Errorf("STS: got %v, want served", err)
		}
		resp, err := http.Get(u + "/_sim/clock")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("control: got %d, want 200", resp.StatusCode)
		}
	})
}
