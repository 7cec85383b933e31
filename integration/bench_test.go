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
	c.ok(b, self, "ls") // warm: page cache, daemon caches, NSS

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + self.home, "TOLLGATE_SOCKET=" + c.socket}
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bins.tollgate, "ls")
		cmd.Env = env
		start := time.Now()
		out, err := cmd.Output()
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatalf("tollgate ls: %v\n%s", err, out)
		}
	}
	b.StopTimer()
	slices.Sort(times)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(times[len(times)/2]), "median-ms")
	b.ReportMetric(ms(times[len(times)*95/100]), "p95-ms")
}
