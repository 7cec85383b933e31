package cloud

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// SSM command statuses (GetCommandInvocation).
const (
	CommandPending    = "Pending"
	CommandInProgress = "InProgress"
	CommandDelayed    = "Delayed"
	CommandSuccess    = "Success"
	CommandFailed     = "Failed"
	CommandTimedOut   = "TimedOut"
	CommandCancelled  = "Cancelled"
)

// MaxSSMOutput is how much of each output stream GetCommandInvocation returns.
const MaxSSMOutput = 24000

// Invocation is one command's outcome on one instance.
type Invocation struct {
	CommandID, InstanceID string
	Status                string // CommandPending … CommandTimedOut
	StatusDetails         string
	ExitCode              int // -1 while running, or when SSM knows none
	Stdout, Stderr        string
	Start, End            time.Time
}

// Done reports whether the invocation has ended.
func (i Invocation) Done() bool {
	switch i.Status {
	case CommandSuccess, CommandFailed, CommandTimedOut, CommandCancelled:
		return true
	}
	return false
}

// ssmClient returns the cached SSM client for region.
func (c *Client) ssmClient(region string) (*ssm.Client, error) {
	if region == "" {
		return nil, errNoRegion
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssm == nil {
		c.ssm = map[string]*ssm.Client{}
	}
	if cl, ok := c.ssm[region]; ok {
		return cl, nil
	}
	cl := ssm.NewFromConfig(c.aws, func(o *ssm.Options) { o.Region = region })
	c.ssm[region] = cl
	return cl, nil
}

// AgentOnline reports whether instance's SSM agent is registered and online.
func (c *Client) AgentOnline(ctx context.Context, region, instance string) (bool, error) {
	cl, err := c.ssmClient(region)
	if err != nil {
		return false, err
	}
	out, err := cl.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{instance}}},
	})
	if err != nil {
		return false, fmt.Errorf("describe SSM instance information of %s in %s: %w", instance, region, err)
	}
	for _, in := range out.InstanceInformationList {
		if aws.ToString(in.InstanceId) == instance && in.PingStatus == ssmtypes.PingStatusOnline {
			return true, nil
		}
	}
	return false, nil
}

// SendCommand runs commands on instance with AWS-RunShellScript, bounded by timeout
// (executionTimeout), and returns the command id. Before the agent is online SSM answers
// InvalidInstanceId (IsInvalidInstanceID).
func (c *Client) SendCommand(ctx context.Context, region, instance string, commands []string, timeout time.Duration) (string, error) {
	cl, err := c.ssmClient(region)
	if err != nil {
		return "", err
	}
	secs := strconv.Itoa(max(int(timeout/time.Second), 1))
	out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{
		DocumentName: aws.String("AWS-RunShellScript"),
		InstanceIds:  []string{instance},
		Parameters:   map[string][]string{"commands": commands, "executionTimeout": {secs}},
	})
	if err != nil {
		return "", fmt.Errorf("send command to %s in %s: %w", instance, region, err)
	}
	return aws.ToString(out.Command.CommandId), nil
}

// GetCommandInvocation reads a command's status and output on instance.
func (c *Client) GetCommandInvocation(ctx context.Context, region, commandID, instance string) (Invocation, error) {
	cl, err := c.ssmClient(region)
	if err != nil {
		return Invocation{}, err
	}
	out, err := cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(commandID), InstanceId: aws.String(instance)})
	if err != nil {
		return Invocation{}, fmt.Errorf("get command %s on %s in %s: %w", commandID, instance, region, err)
	}
	inv := Invocation{CommandID: commandID, InstanceID: instance, Status: string(out.Status),
		StatusDetails: aws.ToString(out.StatusDetails), ExitCode: int(out.ResponseCode),
		Stdout: aws.ToString(out.StandardOutputContent), Stderr: aws.ToString(out.StandardErrorContent)}
	inv.Start, _ = time.Parse(ssmTime, aws.ToString(out.ExecutionStartDateTime))
	inv.End, _ = time.Parse(ssmTime, aws.ToString(out.ExecutionEndDateTime))
	return inv, nil
}

// ssmTime is how GetCommandInvocation writes its dates.
const ssmTime = "2006-01-02T15:04:05.999999999Z07:00"

// IsInvalidInstanceID reports SSM's answer for an instance it cannot reach yet (not
// running, or its agent not registered).
func IsInvalidInstanceID(err error) bool { return Code(err) == "InvalidInstanceId" }
