package awssim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/tollgate/tollgate/awssim"
)

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func postJSON(t *testing.T, url, body string, v any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestControlEndpoints(t *testing.T) {
	e := newEnv(t)
	id := e.run()[0]
	t.Run("clock", func(t *testing.T) {
		var c struct{ Now, Mode string }
		getJSON(t, e.url+"/_sim/clock", &c)
		if c.Now != "2026-01-05T00:00:00Z" || c.Mode != "manual" {
			t.Fatalf("%+v", c)
		}
		postJSON(t, e.url+"/_sim/clock/advance", `{"seconds":90}`, &c)
		if c.Now != "2026-01-05T00:01:30Z" || !e.sim.Now().Equal(awssim.DefaultStart.Add(90*time.Second)) {
			t.Fatalf("%+v", c)
		}
		if st := postJSON(t, e.url+"/_sim/clock/advance", `{"seconds":-5}`, nil); st != 400 {
			t.Fatalf("negative advance: %d", st)
		}
	})
	t.Run("ledger", func(t *testing.T) {
		var l struct {
			Instances []struct {
				ID            string  `json:"id"`
				Region        string  `json:"region"`
				Type          string  `json:"type"`
				Spot          bool    `json:"spot"`
				BilledSeconds int64   `json:"billed_seconds"`
				CostUSD       float64 `json:"cost_usd"`
				EBSUSD        float64 `json:"ebs_usd"`
			} `json:"instances"`
			TotalUSD float64 `json:"total_usd"`
		}
		getJSON(t, e.url+"/_sim/ledger", &l)
		if len(l.Instances) != 1 || l.Instances[0].ID != id || l.Instances[0].BilledSeconds != 75 ||
			l.Instances[0].Region != "us-west-2" || l.Instances[0].Type != "t3.micro" ||
			l.Instances[0].EBSUSD <= 0 || !near(l.TotalUSD, l.Instances[0].CostUSD) {
			t.Fatalf("%+v", l)
		}
	})
	t.Run("instances", func(t *testing.T) {
		var ins []awssim.Instance
		getJSON(t, e.url+"/_sim/instances?region=us-west-2", &ins)
		if len(ins) != 1 || ins[0].ID != id || ins[0].State != "running" || len(ins[0].Transitions) != 2 {
			t.Fatalf("%+v", ins)
		}
		getJSON(t, e.url+"/_sim/instances?region=eu-west-1", &ins)
		if len(ins) != 0 {
			t.Fatalf("%+v", ins)
		}
	})
	t.Run("faults", func(t *testing.T) {
		var f awssim.Faults
		if st := postJSON(t, e.url+"/_sim/faults", `{"seed":3,"error_rate":{"DescribeRegions":1},"latency":"1ms","not_found_window":"10s"}`, &f); st != 200 {
			t.Fatalf("status %d", st)
		}
		got := e.sim.CurrentFaults()
		if got.Seed != 3 || got.Latency != time.Millisecond || got.NotFoundWindow != 10*time.Second || got.ErrorRate["DescribeRegions"] != 1 {
			t.Fatalf("%+v", got)
		}
		_, err := e.west().DescribeRegions(e.ctx, &ec2.DescribeRegionsInput{})
		if code, _ := apiCode(err); code != "InternalError" && code != "Unavailable" {
			t.Fatalf("error rate not applied: %v", err)
		}
		getJSON(t, e.url+"/_sim/faults", &f)
		if f.NotFoundWindow != 10*time.Second {
			t.Fatalf("round trip %+v", f)
		}
		postJSON(t, e.url+"/_sim/faults", `{}`, nil)
		if _, err := e.west().DescribeRegions(e.ctx, &ec2.DescribeRegionsInput{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("forget", func(t *testing.T) {
		postJSON(t, e.url+"/_sim/forget", fmt.Sprintf(`{"id":%q}`, id), nil)
		_, err := e.west().DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		wantCode(t, err, "InvalidInstanceID.NotFound", 400)
	})
	t.Run("unknown endpoint", func(t *testing.T) {
		resp, err := http.Get(e.url + "/_sim/nope")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// recorder is a QueryService that remembers what it was asked.
type recorder struct {
	mu                                   sync.Mutex
	service, region, akid, action, extra string
}

func (r *recorder) ServeQuery(w http.ResponseWriter, req *http.Request, service, region, akid, action string, form url.Values) {
	r.mu.Lock()
	r.service, r.region, r.akid, r.action = service, region, akid, action
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
		`<Arn>arn:aws:iam::123456789012:user/tollgate</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>`+
		`</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.sim.Mount("sts", rec)
	out, err := sts.NewFromConfig(e.cfg("eu-central-1")).GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Account != "123456789012" || rec.service != "sts" || rec.region != "eu-central-1" || rec.akid != "AKIDTEST" || rec.action != "GetCallerIdentity" {
		t.Fatalf("routed %+v / %+v", rec, out)
	}
	t.Run("ec2 region comes from the credential scope", func(t *testing.T) {
		e.runIn(e.ec2("sa-east-1"))
		if n := len(e.sim.Instances("sa-east-1")); n != 1 {
			t.Fatalf("%d instances in sa-east-1", n)
		}
	})
	t.Run("unsimulated region", func(t *testing.T) {
		_, err := e.ec2("mars-north-1").DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{})
		wantCode(t, err, "AuthFailure", 401)
	})
	t.Run("raw query error shape", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.url, bytes.NewBufferString("Action=Bogus&Version=2016-11-15"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-west-2/ec2/aws4_request, SignedHeaders=host, Signature=0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), "<Response><Errors><Error><Code>InvalidAction</Code>") || !strings.Contains(string(b), "<RequestID>") {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
}

func TestStartServer(t *testing.T) {
	srv, sim, err := awssim.Start("127.0.0.1:0", awssim.Options{Regions: []string{"us-west-2", "eu-west-3"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := ec2.NewFromConfig(aws.Config{Region: "eu-west-3", BaseEndpoint: aws.String(srv.URL), Credentials: (&env{}).cfg("").Credentials})
	out, err := c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{})
	if err != nil || len(out.Regions) != 2 {
		t.Fatalf("%v %+v", err, out)
	}
	if _, err := c.RunInstances(t.Context(), runInput()); err != nil {
		t.Fatal(err)
	}
	if len(sim.Instances("eu-west-3")) != 1 {
		t.Fatal("instance not recorded")
	}
}

func TestRealClock(t *testing.T) {
	sim := awssim.New(awssim.Options{Clock: "real"})
	if d := time.Since(sim.Now()); d < 0 || d > time.Second {
		t.Fatalf("real clock off by %v", d)
	}
	sim.Advance(time.Hour)
	if d := sim.Now().Sub(time.Now()); d < 59*time.Minute {
		t.Fatalf("advance under a real clock: %v", d)
	}
}

// TestCloseWithIdleConnection checks Close succeeds while a client holds a connection it
// has sent nothing on (HTTP clients open such spares; http.Server.Shutdown counts them
// busy for five seconds), and that the server is closed afterwards.
func TestCloseWithIdleConnection(t *testing.T) {
	srv, _, err := awssim.Start("127.0.0.1:0", awssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := srv.Close(); err != nil {
		t.Fatalf("close with an idle connection open: %v", err)
	}
	if _, err := http.Get(srv.URL); err == nil {
		t.Error("request after Close: got an answer, want a refused connection")
	}
}
