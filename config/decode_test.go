package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	toml "github.com/pelletier/go-toml/v2"
)

// TestDecodeTextUnmarshaler: a field whose type implements encoding.TextUnmarshaler
// decodes from a string through it, and its errors carry the key.
func TestDecodeTextUnmarshaler(t *testing.T) {
	type section struct {
		Addr  netip.Addr   `toml:"addr"`
		Addrs []netip.Addr `toml:"addrs"`
	}
	type doc struct {
		S section `toml:"s"`
	}
	tests := []struct {
		name    string
		in      string
		want    section
		wantErr string
	}{
		{"value", "[s]\naddr = \"127.0.0.1\"\n", section{Addr: netip.MustParseAddr("127.0.0.1")}, ""},
		{"list", "[s]\naddrs = [\"::1\"]\n", section{Addrs: []netip.Addr{netip.MustParseAddr("::1")}}, ""},
		{"bad text", "[s]\naddr = \"x\"\n", section{}, `s.addr: ParseAddr("x"): unable to parse IP`},
		{"not a string", "[s]\naddr = 1\n", section{}, `s.addr: expected a string, got a TOML integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tree map[string]any
			if err := toml.Unmarshal([]byte(tt.in), &tree); err != nil {
				t.Fatal(err)
			}
			sc := scanDocument([]byte(tt.in))
			var got doc
			d := &decoder{lines: sc.lines, tables: sc.tables}
			d.value(reflect.ValueOf(&got).Elem(), tree, nil, "")
			var msgs []string
			for _, e := range d.errs {
				if e.Line != 2 {
					t.Errorf("got line %d, want 2", e.Line)
				}
				msgs = append(msgs, e.Key+": "+e.Message)
			}
			if gotErr := strings.Join(msgs, "\n"); gotErr != tt.wantErr {
				t.Fatalf("got error %q, want %q", gotErr, tt.wantErr)
			}
			if tt.wantErr == "" && !reflect.DeepEqual(got.S, tt.want) {
				t.Errorf("got %+v, want %+v", got.S, tt.want)
			}
		})
	}
}

func TestBrokerDefaultsNegativeInterval(t *testing.T) {
	b := Broker{Socket: "/tmp/s.sock", ReconcileInterval: -1}
	b.Defaults()
	want := Default().Broker
	want.Socket = "/tmp/s.sock"
	if !reflect.DeepEqual(b, want) {
		t.Errorf("got %+v, want %+v", b, want)
	}
}
