package broker

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/broker/api"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{"valid", `{"type":"t3.micro","count":1}`, ""},
		{"empty body", ``, ""},
		{"whitespace", " \n", ""},
		{"unknown field", `{"type":"t3.micro","security_groups":["sg-open"]}`, `unknown field "security_groups"`},
		{"two objects", `{"count":1}{"count":2}`, "data after the JSON object"},
		{"trailing garbage", `{"count":1} x`, "data after"},
		{"array", `[{"count":1}]`, "one JSON object"},
		{"null", `null`, "one JSON object"},
		{"wrong type", `{"count":"many"}`, `field "count" must be int`},
		{"malformed", `{"count":`, "invalid request"},
		{"user data not base64", `{"user_data":"!!"}`, "invalid request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req api.LaunchRequest
			err := DecodeRequest([]byte(tt.body), &req)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if api.ErrorCode(err) != api.CodeInvalidRequest {
				t.Errorf("got code %q, want invalid_request", api.ErrorCode(err))
			}
		})
	}
}

// requestTypes are the bodies the daemon decodes, one per POST path.
func requestTypes() []func() any {
	return []func() any{
		func() any { return &api.LaunchRequest{} },
		func() any { return &api.IDsRequest{} },
		func() any { return &api.ExtendRequest{} },
		func() any { return &api.SSHKeyRequest{} },
		func() any { return &api.AWSKeyRequest{} },
		func() any { return &api.UsersAddRequest{} },
		func() any { return &api.UsersImportRequest{} },
		func() any { return &api.UserSetRequest{} },
		func() any { return &api.UserNameRequest{} },
		func() any { return &api.IAMRevokeRequest{} },
		func() any { return &accounting.ReportRequest{} },
		func() any { return &struct{}{} },
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"type":"t3.micro","image":"ami-0123456789abcdef0","region":"us-west-2","count":1,"name":"lab","lifetime":"4h","spot":true,"user_data":"IyEvYmluL3NoCg=="}`,
		`{"ids":["i-0123456789abcdef0"]}`, `{"id":"i-1","duration":"2h"}`, `{"user":"alice","set":{"max_instances":3},"clear":["budget_usd"]}`,
		`{"entries":[{"line":1,"user":"alice","group":"s1"}]}`, `{}`, ``, `null`, `[]`, `{"a":1}`, `{"count":1}{}`,
	} {
		f.Add([]byte(s))
	}
	types := requestTypes()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mk := range types {
			v := mk()
			err := DecodeRequest(data, v)
			if err != nil {
				if api.ErrorCode(err) != api.CodeInvalidRequest {
					t.Fatalf("DecodeRequest(%q) into %T: got %v, want an invalid_request error", data, v, err)
				}
				continue
			}
			// What was accepted re-encodes and decodes to the same value: the schema is
			// closed, so nothing the client sent was silently dropped.
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("re-encode %T: %v", v, err)
			}
			w := mk()
			if err := DecodeRequest(b, w); err != nil {
				t.Fatalf("re-decode %s into %T: %v", b, w, err)
			}
			b2, _ := json.Marshal(w)
			if string(b) != string(b2) {
				t.Fatalf("round trip of %T changed: %s → %s", v, b, b2)
			}
		}
	})
}
