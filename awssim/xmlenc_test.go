package awssim

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// oracle renders a response entirely through encoding/xml, as marshalEC2 did before the
// hand-written encoder.
func oracle(t testing.TB, action string, body any) []byte {
	t.Helper()
	out, err := marshalEC2With(nil, action, "req-1", body, encodeBodyReflect)
	if err != nil {
		t.Fatalf("encoding/xml: %v", err)
	}
	return out
}

// sameBytes fails t where got and want first differ, showing both around that point.
func sameBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-80)
	t.Fatalf("%s: hand-written XML differs from encoding/xml at byte %d (lengths %d, %d)\n got: %q\nwant: %q",
		what, i, len(got), len(want), got[from:min(len(got), i+40)], want[from:min(len(want), i+40)])
}

// checkBody compares marshalEC2, the type's appendXML and encoding/xml on body.
func checkBody(t testing.TB, what string, body xmlElement) {
	t.Helper()
	v := reflect.ValueOf(body).Elem().Interface() // handlers return bodies by value
	want := oracle(t, "Describe", v)
	got, err := marshalEC2([]byte("junk")[:0], "Describe", "req-1", v)
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, what+" (marshalEC2)", got, want)
	wantBody, _ := encodeBodyReflect(nil, v)
	sameBytes(t, what+" (appendXML)", body.appendXML(nil), wantBody)
}

// nastyStrings are the pieces random text is made of: plain text, everything
// encoding/xml escapes, characters outside XML's range, valid U+FFFD and invalid UTF-8.
var nastyStrings = []string{
	"", "i-0abc", "us-west-2a", " ", "x y", "<", ">", "&", `"`, "'", "]]>", "&amp;",
	"\t", "\n", "\r", "\r\n", "\x00", "\x01", "\x1f", "\x7f", "é", "日本語", "\U0001F600",
	"\u2028", "\uFFFD", "\uFFFE", "\uFFFF", "\uE000", "\xff", "\xc3", "\xc3(", "\xed\xa0\x80",
	"\xf4\x90\x80\x80", "\xe2\x82", "\xc0\xaf",
}

// randomString concatenates a few random pieces.
func randomString(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(5) {
		b.WriteString(nastyStrings[rng.IntN(len(nastyStrings))])
	}
	return b.String()
}

// fill sets v, recursively, to random contents: random strings, ints (zero often),
// bools, nil or set pointers, nil, empty or multi-element slices.
func fill(rng *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(randomString(rng))
	case reflect.Int:
		v.SetInt([]int64{0, 1, -1, 3000, rng.Int64N(1 << 40), -rng.Int64N(1 << 40)}[rng.IntN(6)])
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Pointer:
		if rng.IntN(2) == 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(rng, v.Elem())
	case reflect.Slice:
		switch n := rng.IntN(5); n {
		case 0:
			v.SetZero()
		default:
			v.Set(reflect.MakeSlice(v.Type(), n-1, n-1))
			for i := range n - 1 {
				fill(rng, v.Index(i))
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(rng, v.Field(i))
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// TestEncoderMatchesReflection compares the hand-written encoder with encoding/xml on
// random values of every hand-encoded response shape. Each case's seed is in its name.
func TestEncoderMatchesReflection(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	var all bytes.Buffer // every oracle output, to check what the values covered
	for seed := range uint64(n) {
		rng := rand.New(rand.NewPCG(seed, 1))
		for _, body := range []xmlElement{&xmlDescribeInstances{}, &xmlReservation{}, &xmlVolumes{}} {
			fill(rng, reflect.ValueOf(body).Elem())
			checkBody(t, fmt.Sprintf("%T seed %d", body, seed), body)
			all.Write(oracle(t, "Describe", reflect.ValueOf(body).Elem().Interface()))
		}
	}
	// The comparison is only as good as the values: they must have hit every escape,
	// empty sets, absent and present optional elements.
	for _, want := range []string{"&#34;", "&#39;", "&amp;", "&lt;", "&gt;", "&#x9;", "&#xA;", "&#xD;",
		"\uFFFD", "é", "\U0001F600", "<groupSet></groupSet>", "<tagSet></tagSet>", "<stateReason>",
		"<iamInstanceProfile>", "<metadataOptions>", "<keyName>", "<nextToken>", "<iops>", "<amiLaunchIndex>-"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("random values never produced %q", want)
		}
	}
	for _, absent := range []string{"<stateReason>", "<iamInstanceProfile>", "<metadataOptions>", "<keyName>", "<iops>"} {
		if strings.Count(all.String(), absent) >= strings.Count(all.String(), "<instanceId>") {
			t.Errorf("random values never omitted %s", absent)
		}
	}
}

// FuzzAppendEscaped checks the escaping helper against encoding/xml's EscapeText on
// arbitrary bytes (seeded with the nasty pieces when run as a plain test).
func FuzzAppendEscaped(f *testing.F) {
	for _, s := range nastyStrings {
		f.Add("a" + s + "b" + s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		if err := xml.EscapeText(&want, []byte(s)); err != nil {
			t.Fatal(err)
		}
		sameBytes(t, strconv.Quote(s), appendEscaped([]byte("prefix"), s), append([]byte("prefix"), want.Bytes()...))
	})
}

// simCall runs one EC2 action against s directly (no HTTP) and returns its body.
func simCall(t testing.TB, s *Sim, action string, kv ...string) any {
	t.Helper()
	form := url.Values{"Action": {action}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	body, aerr := s.applyEC2(ec2Handlers[action], "us-west-2", &call{form: form, action: action})
	if aerr != nil {
		t.Fatalf("%s: %v", action, aerr)
	}
	return body
}

// run launches n instances in s with the given extra RunInstances parameters and
// returns their ids.
func run(t testing.TB, s *Sim, n int, kv ...string) []string {
	t.Helper()
	kv = append([]string{"ImageId", FixedImageID, "InstanceType", "t3.micro",
		"MinCount", strconv.Itoa(n), "MaxCount", strconv.Itoa(n)}, kv...)
	res := simCall(t, s, "RunInstances", kv...).(xmlReservation)
	checkBody(t, "RunInstances", &res)
	var ids []string
	for _, in := range res.Instances {
		ids = append(ids, in.InstanceID)
	}
	return ids
}

// TestEncoderOnSimulatedAccount compares the encoders on what the simulator really
// serves: instances in every state, spot, profiles, security groups, odd tags, extra
// and kept volumes, and paged listings.
func TestEncoderOnSimulatedAccount(t *testing.T) {
	s := New(Options{})
	tagged := []string{"TagSpecification.1.ResourceType", "instance",
		"TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", `a<b & "c" 'd'` + "\t\xff",
		"TagSpecification.1.Tag.2.Key", "owner", "TagSpecification.1.Tag.2.Value", "u001",
		"TagSpecification.2.ResourceType", "volume",
		"TagSpecification.2.Tag.1.Key", "kept", "TagSpecification.2.Tag.1.Value", ""}
	s.AddInstanceProfile("lab")
	plain := run(t, s, 3)
	run(t, s, 4, tagged...)
	run(t, s, 2, "InstanceMarketOptions.MarketType", "spot", "IamInstanceProfile.Name", "lab",
		"SecurityGroup.1", "web", "SecurityGroup.2", "ssh", "MetadataOptions.HttpTokens", "required")
	kept := run(t, s, 2, append(tagged, "BlockDeviceMapping.1.DeviceName", "/dev/sdf",
		"BlockDeviceMapping.1.Ebs.VolumeSize", "100", "BlockDeviceMapping.1.Ebs.VolumeType", "gp2",
		"BlockDeviceMapping.1.Ebs.DeleteOnTermination", "false")...)
	run(t, s, 1, "ClientToken", "tok&<>")
	run(t, s, 1, "ClientToken", "tok&<>") // the idempotent replay
	s.Advance(time.Minute)
	simCall(t, s, "StopInstances", "InstanceId.1", plain[0])
	simCall(t, s, "TerminateInstances", "InstanceId.1", plain[1], "InstanceId.2", kept[0])
	for _, d := range []time.Duration{0, time.Second, time.Minute} {
		s.Advance(d)
		for _, page := range []string{"", "5"} {
			args := []string{}
			if page != "" {
				args = []string{"MaxResults", page}
			}
			ins := simCall(t, s, "DescribeInstances", args...).(xmlDescribeInstances)
			checkBody(t, "DescribeInstances", &ins)
			vols := simCall(t, s, "DescribeVolumes", args...).(xmlVolumes)
			checkBody(t, "DescribeVolumes", &vols)
		}
	}
	empty := simCall(t, s, "DescribeInstances", "Filter.1.Name", "instance-type", "Filter.1.Value.1", "none").(xmlDescribeInstances)
	checkBody(t, "empty DescribeInstances", &empty)
}

// TestEncodeBodySkipsReflection checks that the hot shapes really take the hand-written
// path: encoding/xml allocates per element, the hand-written encoder not at all once
// its buffer is large enough.
func TestEncodeBodySkipsReflection(t *testing.T) {
	for _, body := range []xmlElement{&xmlDescribeInstances{}, &xmlReservation{}, &xmlVolumes{}} {
		fill(rand.New(rand.NewPCG(7, 7)), reflect.ValueOf(body).Elem())
		v := reflect.ValueOf(body).Elem().Interface()
		buf := make([]byte, 0, 1<<20)
		if allocs := testing.AllocsPerRun(10, func() { _, _ = encodeBody(buf, v) }); allocs > 0 {
			t.Errorf("%T: %v allocations per encoding", body, allocs)
		}
	}
}

// BenchmarkDescribeInstancesEncode encodes one DescribeInstances page of 1000 simulated
// instances (tagged, each with its root volume) with encoding/xml ("reflect") and by
// hand ("hand"); hand reports its speed-up as x-reflect when reflect ran in the same
// invocation.
func BenchmarkDescribeInstancesEncode(b *testing.B) {
	s := New(Options{})
	for range 2 {
		run(b, s, 500, "TagSpecification.1.ResourceType", "instance",
			"TagSpecification.1.Tag.1.Key", "tollgate:owner", "TagSpecification.1.Tag.1.Value", "u042",
			"TagSpecification.1.Tag.2.Key", "tollgate:purpose", "TagSpecification.1.Tag.2.Value", "user",
			"TagSpecification.1.Tag.3.Key", "tollgate:uid", "TagSpecification.1.Tag.3.Value", "1000")
	}
	s.Advance(time.Minute)
	page := simCall(b, s, "DescribeInstances", "MaxResults", "1000")
	var reflectNs float64
	for _, enc := range []struct {
		name string
		fn   func([]byte, any) ([]byte, error)
	}{{"reflect", encodeBodyReflect}, {"hand", encodeBody}} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte // reused, as serveEC2 reuses its buffers
			for b.Loop() {
				out, err := marshalEC2With(buf[:0], "DescribeInstances", "req-1", page, enc.fn)
				if err != nil {
					b.Fatal(err)
				}
				buf = out
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(len(buf)), "bytes/page")
			if enc.name == "reflect" {
				reflectNs = ns
			} else if reflectNs > 0 {
				b.ReportMetric(reflectNs/ns, "x-reflect")
			}
		})
	}
}
