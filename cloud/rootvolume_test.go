package cloud

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestRootMapping(t *testing.T) {
	ubuntu := rootVolume{device: "/dev/sda1", ebs: true, snapshot: "snap-1", sizeGB: 8}
	tests := []struct {
		name    string
		in      RunInput
		r       rootVolume
		wantOK  bool
		want    string // device snapshot size type
		wantDoT bool
	}{
		{"type only", RunInput{VolumeType: "gp3"}, ubuntu, true, "/dev/sda1 snap-1 8 gp3", true},
		{"policy larger", RunInput{VolumeSizeGB: 30, VolumeType: "io1"}, ubuntu, true, "/dev/sda1 snap-1 30 io1", true},
		{"policy smaller", RunInput{VolumeSizeGB: 4}, ubuntu, true, "/dev/sda1 snap-1 8 gp3", true},
		{"snapshot without size", RunInput{VolumeType: "gp2"}, rootVolume{device: "/dev/xvda", ebs: true, snapshot: "snap-2"}, true, "/dev/xvda snap-2 0 gp2", true},
		{"size without snapshot", RunInput{VolumeSizeGB: 10}, rootVolume{device: "/dev/xvda", ebs: true}, true, "/dev/xvda  10 gp3", true},
		{"neither: cannot be completed", RunInput{VolumeType: "gp3"}, rootVolume{device: "/dev/xvda", ebs: true}, false, "", false},
		{"instance store", RunInput{VolumeSizeGB: 10}, rootVolume{device: "/dev/sda1", snapshot: "snap-3", sizeGB: 8}, false, "", false},
		{"no root device", RunInput{VolumeSizeGB: 10}, rootVolume{ebs: true, snapshot: "snap-3", sizeGB: 8}, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := rootMapping(tt.in, tt.r)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v (mapping %+v)", ok, tt.wantOK, m)
			}
			if !ok {
				return
			}
			got := fmt.Sprintf("%s %s %d %s", aws.ToString(m.DeviceName), aws.ToString(m.Ebs.SnapshotId),
				aws.ToInt32(m.Ebs.VolumeSize), m.Ebs.VolumeType)
			if got != tt.want {
				t.Errorf("mapping = %q, want %q", got, tt.want)
			}
			if aws.ToBool(m.Ebs.DeleteOnTermination) != tt.wantDoT {
				t.Errorf("delete on termination = %v, want %v", aws.ToBool(m.Ebs.DeleteOnTermination), tt.wantDoT)
			}
		})
	}
}

func TestRootCacheBounded(t *testing.T) {
	rc := newRootCache(3)
	for i := range 5 {
		rc.put(fmt.Sprint(i), rootVolume{sizeGB: i})
		if i == 2 {
			rc.get("0") // 0 is now the most recently used, 1 the least
		}
	}
	if got, want := rc.len(), 3; got != want {
		t.Fatalf("len = %d, want %d", got, want)
	}
	for key, want := range map[string]bool{"0": true, "1": false, "2": false, "3": true, "4": true} {
		r, ok := rc.get(key)
		if ok != want {
			t.Errorf("get(%s) present = %v, want %v", key, ok, want)
		}
		if ok && fmt.Sprint(r.sizeGB) != key {
			t.Errorf("get(%s) = %+v, want size %s", key, r, key)
		}
	}
}
