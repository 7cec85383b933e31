package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/broker/api"
)

// AdminRegionsCmd groups `tollgate admin regions …`.
type AdminRegionsCmd struct {
	Setup  AdminRegionsSetupCmd  `cmd:"" help:"Copy the image, import the keypair, replicate the group and create the stopped instance in each region (idempotent)."`
	Check  AdminRegionsCheckCmd  `cmd:"" help:"Per region: image, snapshots, keypair, group, instance, last run, and drift from the configuration."`
	Clear  AdminRegionsClearCmd  `cmd:"" help:"Remove everything of a service from one region (never its home region)."`
	Update AdminRegionsUpdateCmd `cmd:"" help:"After the home image changed: copy it and replace each region's instance."`
	Run    AdminRegionsRunCmd    `cmd:"" help:"Run the service's job now (start, run through SSM, stop)."`
	Runs   AdminRegionsRunsCmd   `cmd:"" help:"The service's runs: region, start, end, status, exit code, output, cost."`
}

// AdminRegionsSetupCmd is `tollgate admin regions setup SERVICE [REGION…]`.
type AdminRegionsSetupCmd struct {
	Service string   `arg:"" help:"The service's name."`
	Regions []string `arg:"" optional:"" help:"Regions to set up (default: all of the service's)."`
}

// Run sets the service up.
func (c *AdminRegionsSetupCmd) Run(env *Env) error {
	res, err := env.Client.RegionsSetup(env.Ctx, api.PathAdminRegionsSetup, api.RegionsRequest{Service: c.Service, Regions: c.Regions})
	if err != nil {
		return err
	}
	return printSetups(env, res)
}

// AdminRegionsUpdateCmd is `tollgate admin regions update SERVICE`.
type AdminRegionsUpdateCmd struct {
	Service string `arg:"" help:"The service's name."`
}

// Run updates the service.
func (c *AdminRegionsUpdateCmd) Run(env *Env) error {
	res, err := env.Client.RegionsSetup(env.Ctx, api.PathAdminRegionsUpdate, api.RegionsRequest{Service: c.Service})
	if err != nil {
		return err
	}
	return printSetups(env, res)
}

func printSetups(env *Env, res []tollgate.RegionSetup) error {
	if env.JSON {
		return printJSON(env.Out, api.RegionSetupList{Regions: nonNil(res)})
	}
	t := newTable(env.Out, "REGION", "IMAGE", "GROUP", "INSTANCE", "RESULT")
	failed := 0
	for _, r := range res {
		result := "ok"
		if r.Error != "" {
			result, failed = oneLine(r.Error), failed+1
		}
		t.row(r.Region, r.ImageID, r.GroupID, r.InstanceID, result)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d region(s) failed; run the same command again to resume", failed)
	}
	return nil
}

// AdminRegionsCheckCmd is `tollgate admin regions check SERVICE`.
type AdminRegionsCheckCmd struct {
	Service string `arg:"" help:"The service's name."`
}

// Run checks the service.
func (c *AdminRegionsCheckCmd) Run(env *Env) error {
	cs, err := env.Client.RegionsCheck(env.Ctx, c.Service)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, api.RegionCheckList{Regions: nonNil(cs)})
	}
	t := newTable(env.Out, "REGION", "IMAGE", "SNAPSHOTS", "KEYPAIR", "GROUP", "INSTANCE", "STATE", "LAST RUN", "DRIFT")
	for _, r := range cs {
		img := r.ImageID
		if r.ImageStale {
			img += " (stale)"
		}
		last := ""
		if r.LastRun != nil {
			last = r.LastRun.Status + " " + stamp(r.LastRun.Start)
		}
		kp := "no"
		if r.KeyPair {
			kp = "yes"
		}
		t.row(r.Region, img, strings.Join(r.Snapshots, " "), kp, r.GroupID, r.InstanceID, r.InstanceState, last,
			oneLine(strings.Join(r.Drift, "; ")))
	}
	return t.flush()
}

// AdminRegionsClearCmd is `tollgate admin regions clear SERVICE REGION --yes`.
type AdminRegionsClearCmd struct {
	Service string `arg:"" help:"The service's name."`
	Region  string `arg:"" help:"The region to clear (not the home region)."`
	Yes     bool   `help:"Really delete the instance, image, snapshots, keypair and group there."`
}

// Run clears the region.
func (c *AdminRegionsClearCmd) Run(env *Env) error {
	if !c.Yes {
		return usagef("clear deletes the service's instance, image, snapshots, keypair and group in %s: add --yes", c.Region)
	}
	if err := env.Client.RegionsClear(env.Ctx, c.Service, c.Region); err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, api.Empty{})
	}
	fmt.Fprintf(env.Out, "%s cleared from %s\n", printable(c.Service), printable(c.Region))
	return nil
}

// AdminRegionsRunCmd is `tollgate admin regions run SERVICE [REGION…]`.
type AdminRegionsRunCmd struct {
	Service string   `arg:"" help:"The service's name."`
	Regions []string `arg:"" optional:"" help:"Regions to run in (default: all of the service's)."`
	Wait    bool     `help:"Wait for the runs to end and print them (the instance is stopped whatever happens)."`
}

// Run starts the job (and with --wait, waits for its end).
func (c *AdminRegionsRunCmd) Run(env *Env) error {
	runs, err := env.Client.RegionsRun(env.Ctx, api.RegionsRequest{Service: c.Service, Regions: c.Regions, Wait: c.Wait})
	if err != nil {
		return err
	}
	if !c.Wait {
		if env.JSON {
			return printJSON(env.Out, api.ServiceRunList{Runs: nonNil(runs)})
		}
		fmt.Fprintf(env.Out, "runs of %s started; follow them with `tollgate admin regions runs %s`\n", printable(c.Service), printable(c.Service))
		return nil
	}
	if err := printRuns(env, runs, false); err != nil {
		return err
	}
	for _, r := range runs {
		if r.Status != "succeeded" {
			return fmt.Errorf("not every run succeeded")
		}
	}
	return nil
}

// AdminRegionsRunsCmd is `tollgate admin regions runs SERVICE`.
type AdminRegionsRunsCmd struct {
	Service string `arg:"" help:"The service's name."`
	Limit   int    `default:"50" help:"How many runs, newest first."`
	Output  bool   `help:"Print each run's output tail too."`
}

// Run lists the runs.
func (c *AdminRegionsRunsCmd) Run(env *Env) error {
	runs, err := env.Client.RegionsRuns(env.Ctx, c.Service, c.Limit)
	if err != nil {
		return err
	}
	return printRuns(env, runs, c.Output)
}

func printRuns(env *Env, runs []tollgate.ServiceRun, output bool) error {
	if env.JSON {
		return printJSON(env.Out, api.ServiceRunList{Runs: nonNil(runs)})
	}
	t := newTable(env.Out, "RUN", "REGION", "START", "END", "STATUS", "EXIT", "SECONDS", "COST", "REASON")
	for _, r := range runs {
		t.row(strconv.FormatInt(r.ID, 10), r.Region, stamp(r.Start), stamp(r.End), r.Status, strconv.Itoa(r.ExitCode),
			strconv.FormatFloat(r.InstanceSeconds, 'f', 0, 64), usd(r.CostUSD), oneLine(r.Reason))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if output {
		for _, r := range runs {
			fmt.Fprintf(env.Out, "\n--- run %d (%s) stdout:\n%s--- stderr:\n%s", r.ID, printable(r.Region), lines(r.Stdout), lines(r.Stderr))
		}
	}
	return nil
}

// lines is job output made safe for a terminal line by line (escape sequences shown,
// not interpreted), each line ended.
func lines(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		b.WriteString(printable(l) + "\n")
	}
	return b.String()
}
