package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tollgate/tollgate/broker/api"
)

// LaunchCmd is `tollgate launch`. Everything a user may choose is here; the rest
// (security groups, subnet, volumes) comes from policy.
type LaunchCmd struct {
	Type     string        `help:"Instance type (default: the policy's first)." placeholder:"TYPE"`
	Image    string        `help:"Image id or an exact image name allowed by policy." placeholder:"AMI"`
	Region   string        `help:"Region (default: the policy's first)." placeholder:"REGION"`
	Count    int           `help:"How many instances." placeholder:"N"`
	Name     string        `help:"Name tag." placeholder:"NAME"`
	Lifetime string        `help:"Lease, e.g. 4h or 90m (default: the policy's)." placeholder:"DURATION"`
	Spot     bool          `help:"Ask for spot instances."`
	UserData string        `name:"user-data" help:"File whose contents become the instances' user data (max 16 KiB)." placeholder:"FILE" type:"path"`
	Spec     string        `help:"JSON launch request (the socket API's fields) from FILE, or - for stdin; flags given override it." placeholder:"FILE|-"`
	Wait     bool          `help:"Show progress until every instance is running."`
	Timeout  time.Duration `name:"wait-timeout" help:"Give up waiting after this long." default:"10m"`
}

// maxUserData mirrors EC2's limit so a too-large file is refused before the round trip.
const maxUserData = 16 << 10

// Run launches.
func (c *LaunchCmd) Run(env *Env) error {
	req, err := c.request(env.In)
	if err != nil {
		return err
	}
	resp, err := env.Client.Launch(env.Ctx, req)
	if err != nil {
		return err
	}
	if c.Wait {
		ids := make([]string, len(resp.Instances))
		for i, in := range resp.Instances {
			ids[i] = in.ID
		}
		w := waiter{env: env, interval: 2 * time.Second, timeout: c.Timeout}
		insts, err := w.wait(ids)
		if len(insts) > 0 {
			resp.Instances = insts
		}
		if err != nil {
			if env.JSON {
				_ = printJSON(env.Out, resp)
			}
			return err
		}
	}
	if env.JSON {
		return printJSON(env.Out, resp)
	}
	fmt.Fprintf(env.Out, "launch %s: %d instance(s)\n", resp.RequestID, len(resp.Instances))
	return printInstances(env, resp.Instances, false)
}

// request builds the launch request: --spec first, then every flag given on top.
func (c *LaunchCmd) request(stdin io.Reader) (api.LaunchRequest, error) {
	var req api.LaunchRequest
	if c.Spec != "" {
		var data []byte
		var err error
		if c.Spec == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
		} else {
			data, err = os.ReadFile(c.Spec)
		}
		if err != nil {
			return req, fmt.Errorf("read spec: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return req, usagef("spec %s: %v (fields: type, image, region, count, name, lifetime, spot, user_data as base64)", c.Spec, err)
		}
	}
	setStr := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setStr(&req.Type, c.Type)
	setStr(&req.Image, c.Image)
	setStr(&req.Region, c.Region)
	setStr(&req.Name, c.Name)
	setStr(&req.Lifetime, c.Lifetime)
	if c.Count < 0 {
		return req, usagef("--count %d: must be 1 or more", c.Count)
	}
	if c.Count > 0 {
		req.Count = c.Count
	}
	if c.Spot {
		req.Spot = true
	}
	if c.UserData != "" {
		data, err := readSmallFile(c.UserData, maxUserData)
		if err != nil {
			return req, fmt.Errorf("read user data: %w", err)
		}
		req.UserData = data
	}
	if len(req.UserData) > maxUserData {
		return req, usagef("user data is %d bytes; EC2 accepts at most %d", len(req.UserData), maxUserData)
	}
	return req, nil
}

// readSmallFile reads a file of at most limit bytes; a larger one is an error rather than
// silently truncated.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}
