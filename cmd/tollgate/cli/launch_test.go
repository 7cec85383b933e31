package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/broker/api"
)

func TestLaunchRequest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	spec := write("spec.json", `{"type":"t3.small","count":2,"name":"hw","lifetime":"6h","user_data":"aGk="}`)
	userData := write("ud.sh", "#!/bin/sh\necho hi\n")
	bigUserData := write("big.sh", strings.Repeat("x", maxUserData+1))
	badSpec := write("bad.json", `{"type":"t3.small","security_groups":["sg-1"]}`)

	tests := []struct {
		name      string
		cmd       LaunchCmd
		stdin     string
		want      api.LaunchRequest
		wantUsage bool
		wantErr   bool
	}{
		{name: "flags only", cmd: LaunchCmd{Type: "t3.micro", Count: 1, Name: "a", Spot: true},
			want: api.LaunchRequest{Type: "t3.micro", Count: 1, Name: "a", Spot: true}},
		{name: "no flags leaves policy defaults", cmd: LaunchCmd{}, want: api.LaunchRequest{}},
		{name: "spec file", cmd: LaunchCmd{Spec: spec},
			want: api.LaunchRequest{Type: "t3.small", Count: 2, Name: "hw", Lifetime: "6h", UserData: []byte("hi")}},
		{name: "flags override spec", cmd: LaunchCmd{Spec: spec, Type: "t3.micro", Count: 1},
			want: api.LaunchRequest{Type: "t3.micro", Count: 1, Name: "hw", Lifetime: "6h", UserData: []byte("hi")}},
		{name: "spec from stdin", cmd: LaunchCmd{Spec: "-"}, stdin: `{"region":"us-east-1"}`,
			want: api.LaunchRequest{Region: "us-east-1"}},
		{name: "user data file", cmd: LaunchCmd{UserData: userData},
			want: api.LaunchRequest{UserData: []byte("#!/bin/sh\necho hi\n")}},
		{name: "spec with a field users may not choose", cmd: LaunchCmd{Spec: badSpec}, wantUsage: true},
		{name: "user data too large", cmd: LaunchCmd{UserData: bigUserData}, wantErr: true},
		{name: "negative count", cmd: LaunchCmd{Count: -1}, wantUsage: true},
		{name: "missing spec file", cmd: LaunchCmd{Spec: filepath.Join(dir, "nope.json")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cmd.request(strings.NewReader(tt.stdin))
			var ue *usageError
			switch {
			case tt.wantUsage:
				if !errors.As(err, &ue) {
					t.Fatalf("request() error = %v, want a usage error", err)
				}
			case tt.wantErr:
				if err == nil || errors.As(err, &ue) {
					t.Fatalf("request() error = %v, want a plain error", err)
				}
			case err != nil:
				t.Fatalf("request() error = %v", err)
			case !reflect.DeepEqual(got, tt.want):
				t.Errorf("request() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReport(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantOut  string
	}{
		{name: "success", err: nil, wantCode: ExitOK, wantOut: ""},
		{name: "refusal with hint", err: &api.Error{Code: api.CodeQuotaExceeded, Message: "max_instances is 2: you have 2", Hint: "terminate one"},
			wantCode: ExitFailure, wantOut: "tollgate: max_instances is 2: you have 2\nhint: terminate one\n"},
		{name: "multi-line failure is one line", err: errors.New("a\nb"), wantCode: ExitFailure, wantOut: "tollgate: a; b\n"},
		{name: "usage error", err: usagef("bad flag"), wantCode: ExitUsage, wantOut: "tollgate: bad flag\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if got := report(&buf, tt.err); got != tt.wantCode {
				t.Errorf("report() = %d, want %d", got, tt.wantCode)
			}
			if got := buf.String(); got != tt.wantOut {
				t.Errorf("report() printed %q, want %q", got, tt.wantOut)
			}
		})
	}
}
