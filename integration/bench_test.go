package integration

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// BenchmarkLsProcess measures `tollgate ls` as a whole process — exec, connect, one
// request, render, exit — against a warm daemon on awssim holding two instances. It
// reports the median (target ≤ 5 ms) and the 95th percentile.
func BenchmarkLsProcess(b *testing.B) {
	dir := worldDir(b)
	self := me(b, dir)
	c := newCluster(b, dir, clusterOptions{daemonUser: self, adminGroup: primaryGroup(b, self)})
	c.ok(b, self, "admin", "users", "add", self.name)
	c.ok(b, self, "keys", "ssh")
	launchOne(b, c, self, "--name", "bench1")
	launchOne(b, c, self, "--name", "bench2")
	// Past pending, so `ls` serves the database: a listing refreshes instances in
	// transitional states from the cloud, which a steady-state ls does not pay.
	c.advanceSim(b, time.Minute)
	c.ok(b, self, "ls") // warm: page cache, daemon caches, NSS; refreshes pending → running

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + self.home, "TOLLGATE_SOCKET=" + c.socket}
	run := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		start := time.Now()
		out, err := cmd.Output()
		d := time.Since(start)
		if err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return d
	}
	// The baseline, measured in the same run and interleaved with it: the cost of
	// starting any process from this one (fork/exec, pipes, wait), which no CLI can beat.
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Fatal(err)
	}
	times := make([]time.Duration, 0, b.N)
	base := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		times = append(times, run(bins.tollgate, "ls"))
		b.StopTimer()
		base = append(base, run(truePath))
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(times)
	slices.Sort(base)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	med, baseMed := times[len(times)/2], base[len(base)/2]
	b.ReportMetric(ms(med), "median-ms")
	b.ReportMetric(ms(times[len(times)*95/100]), "p95-ms")
	b.ReportMetric(ms(baseMed), "exec-true-median-ms")
	b.ReportMetric(float64(med)/float64(baseMed), "ls/true")
}
