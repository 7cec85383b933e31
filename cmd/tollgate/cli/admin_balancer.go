package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/broker/api"
)

// AdminBalancerCmd groups `tollgate admin balancer …`.
type AdminBalancerCmd struct {
	Ls     AdminBalancerLsCmd     `cmd:"" help:"List the balancer pools: load, wanted band, slaves by state."`
	Status AdminBalancerStatusCmd `cmd:"" help:"One pool in full: slaves, market, cost, the last decisions and why."`
	Pause  AdminBalancerPauseCmd  `cmd:"" help:"Stop every launch and termination of a pool until resume."`
	Resume AdminBalancerResumeCmd `cmd:"" help:"Undo pause or drain."`
	Drain  AdminBalancerDrainCmd  `cmd:"" help:"Terminate every slave of a pool and launch none until resume."`
	Set    AdminBalancerSetCmd    `cmd:"" help:"Override a pool's min/max band for a while (--clear removes it)."`
}

// AdminBalancerLsCmd is `tollgate admin balancer ls`.
type AdminBalancerLsCmd struct{}

// Run lists the pools.
func (c *AdminBalancerLsCmd) Run(env *Env) error {
	ps, err := env.Client.Pools(env.Ctx)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, api.PoolList{Pools: nonNil(ps)})
	}
	if len(ps) == 0 {
		fmt.Fprintln(env.Out, "no balancer pools are configured")
		return nil
	}
	t := newTable(env.Out, "POOL", "REGION", "STATE", "LOAD", "SMOOTHED", "WANT", "REQUESTED", "BOOTING", "READY", "DRAINING", "MARKET", "COST")
	for _, p := range ps {
		t.row(p.Name, p.Region, p.State, loadText(p), strconv.FormatFloat(p.Smoothed, 'f', 2, 64),
			fmt.Sprintf("%d..%d", p.WantMin, p.WantMax), strconv.Itoa(p.Counts["requested"]), strconv.Itoa(p.Counts["booting"]),
			strconv.Itoa(p.Counts["ready"]), strconv.Itoa(p.Counts["draining"]), p.Market, usd(p.CostUSD))
	}
	return t.flush()
}

func loadText(p tollgate.PoolStatus) string {
	if !p.LoadOK {
		return "unknown"
	}
	return strconv.FormatFloat(p.Load, 'f', 2, 64)
}

// AdminBalancerStatusCmd is `tollgate admin balancer status POOL`.
type AdminBalancerStatusCmd struct {
	Pool  string        `arg:"" help:"The pool's name."`
	Watch bool          `help:"Redraw every --every until interrupted."`
	Every time.Duration `default:"5s" help:"How often --watch redraws."`
}

// Run shows one pool, once or (--watch) until interrupted.
func (c *AdminBalancerStatusCmd) Run(env *Env) error {
	for {
		p, err := env.Client.PoolStatus(env.Ctx, c.Pool)
		if err != nil {
			return err
		}
		if env.JSON {
			if err := printJSON(env.Out, p); err != nil {
				return err
			}
		} else {
			if c.Watch {
				fmt.Fprint(env.Out, "\x1b[H\x1b[2J")
			}
			if err := printPool(env, p); err != nil {
				return err
			}
		}
		if !c.Watch {
			return nil
		}
		select {
		case <-env.Ctx.Done():
			return nil
		case <-time.After(max(c.Every, time.Second)):
		}
	}
}

func printPool(env *Env, p tollgate.PoolStatus) error {
	w := env.Out
	fmt.Fprintf(w, "pool %s (%s): %s\n", printable(p.Name), printable(p.Region), p.State)
	load := loadText(p)
	if !p.LoadOK && p.LoadError != "" {
		load += " (" + oneLine(p.LoadError) + ")"
	}
	fmt.Fprintf(w, "load: %s, smoothed %.2f; wanted %d..%d", load, p.Smoothed, p.WantMin, p.WantMax)
	if p.Override != nil {
		fmt.Fprintf(w, " (override %d..%d until %s)", p.Override.Min, p.Override.Max, stamp(p.Override.Until))
	}
	fmt.Fprintln(w)
	if p.PollFails > 0 {
		fmt.Fprintf(w, "the load source failed the last %d poll(s): the pool is held\n", p.PollFails)
	}
	market := p.Market
	if p.SpotBid > 0 {
		market += fmt.Sprintf(" (spot %s, bid %s)", usd(p.SpotPrice), usd(p.SpotBid))
	}
	budget := "no budget"
	if p.BudgetUSD > 0 {
		budget = "budget " + usd(p.BudgetUSD)
	}
	fmt.Fprintf(w, "new slaves: %s; this month %s, %s; group %s\n", market, usd(p.CostUSD), budget, orDash(p.SecurityGroup))
	var counts []string
	for _, s := range []string{"requested", "booting", "ready", "draining", "gone"} {
		counts = append(counts, fmt.Sprintf("%s %d", s, p.Counts[s]))
	}
	fmt.Fprintf(w, "slaves: %s\n\n", strings.Join(counts, ", "))
	t := newTable(w, "SLAVE", "STATE", "TYPE", "ZONE", "IP", "MARKET", "PRICE/H", "COST", "LAUNCHED")
	for _, s := range p.Slaves {
		ip := s.PrivateIP
		if ip == "" {
			ip = s.PublicIP
		}
		t.row(s.ID, s.State, s.Type, s.Zone, ip, s.Market, usd(s.PriceHourly), usd(s.CostUSD), relTime(s.LaunchedAt, env.Now()))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(p.Decisions) > 0 {
		fmt.Fprintln(w, "\nlast decisions:")
		for i, d := range p.Decisions {
			if i == 5 {
				break
			}
			fmt.Fprintf(w, "  %s  %s\n", stamp(d.At), oneLine(strings.Join(d.Why, "; ")))
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// AdminBalancerPauseCmd is `tollgate admin balancer pause POOL`.
type AdminBalancerPauseCmd struct {
	Pool string `arg:"" help:"The pool's name."`
}

// Run pauses the pool.
func (c *AdminBalancerPauseCmd) Run(env *Env) error {
	return poolAction(env, api.PathAdminBalancerPause, c.Pool)
}

// AdminBalancerResumeCmd is `tollgate admin balancer resume POOL`.
type AdminBalancerResumeCmd struct {
	Pool string `arg:"" help:"The pool's name."`
}

// Run resumes the pool.
func (c *AdminBalancerResumeCmd) Run(env *Env) error {
	return poolAction(env, api.PathAdminBalancerResume, c.Pool)
}

// AdminBalancerDrainCmd is `tollgate admin balancer drain POOL`.
type AdminBalancerDrainCmd struct {
	Pool string `arg:"" help:"The pool's name."`
}

// Run drains the pool.
func (c *AdminBalancerDrainCmd) Run(env *Env) error {
	return poolAction(env, api.PathAdminBalancerDrain, c.Pool)
}

func poolAction(env *Env, path, pool string) error {
	p, err := env.Client.PoolAction(env.Ctx, path, pool)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, p)
	}
	fmt.Fprintf(env.Out, "pool %s is now %s\n", printable(p.Name), p.State)
	return nil
}

// AdminBalancerSetCmd is `tollgate admin balancer set POOL --min N --max N --for D`.
type AdminBalancerSetCmd struct {
	Pool  string `arg:"" help:"The pool's name."`
	Min   int    `default:"-1" help:"Wanted minimum slaves."`
	Max   int    `default:"-1" help:"Wanted maximum slaves."`
	For   string `default:"4h" help:"How long the override lasts (e.g. 90m, 4h, 2d; at most 7d)."`
	Clear bool   `help:"Remove the override: the load table decides again."`
}

// Run sets or clears the override.
func (c *AdminBalancerSetCmd) Run(env *Env) error {
	req := api.PoolSetRequest{Pool: c.Pool, Min: c.Min, Max: c.Max, For: c.For, Clear: c.Clear}
	if !c.Clear && (c.Min < 0 || c.Max < 0) {
		return usagef("set needs --min and --max (or --clear)")
	}
	p, err := env.Client.PoolSet(env.Ctx, req)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, p)
	}
	if p.Override == nil {
		fmt.Fprintf(env.Out, "pool %s: override cleared; the load table decides\n", printable(p.Name))
		return nil
	}
	fmt.Fprintf(env.Out, "pool %s: %d..%d slaves until %s\n", printable(p.Name), p.Override.Min, p.Override.Max, stamp(p.Override.Until))
	return nil
}
