package cloud

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"golang.org/x/crypto/ssh"
)

// ConsoleOutput returns the instance's console output as EC2 last captured it ("" when
// there is none yet, as there is for the first minutes after a boot).
func (c *Client) ConsoleOutput(ctx context.Context, region, id string) (string, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return "", fmt.Errorf("console output: %w", err)
	}
	out, err := cl.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id)})
	if err != nil {
		return "", fmt.Errorf("console output of %s in %s: %w", id, region, err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.Output))
	if err != nil {
		return "", fmt.Errorf("console output of %s in %s: %w", id, region, err)
	}
	return string(raw), nil
}

// HostKeysFromConsole returns the SSH host keys cloud-init printed between its
// "-----BEGIN SSH HOST KEY KEYS-----" and "-----END SSH HOST KEY KEYS-----" lines; lines
// that are not keys are ignored.
func HostKeysFromConsole(console string) []ssh.PublicKey {
	var keys []ssh.PublicKey
	in := false
	sc := bufio.NewScanner(strings.NewReader(console))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.Contains(line, "-----BEGIN SSH HOST KEY KEYS-----"):
			in = true
		case strings.Contains(line, "-----END SSH HOST KEY KEYS-----"):
			in = false
		case in:
			if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil {
				keys = append(keys, k)
			}
		}
	}
	return keys
}
