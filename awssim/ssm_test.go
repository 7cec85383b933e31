package awssim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/tollgate/tollgate/awssim"
)

func TestListCommandInvocations(t *testing.T) {
	e := newEnv(t)
	c := ssm.NewFromConfig(e.cfg("us-west-2"))
	a, b := e.run()[0], e.run()[0]
	e.advance(awssim.PendingDuration + awssim.AgentDelay)
	long := strings.Repeat("x", 3000)
	e.sim.SetCommandOutcome(a, awssim.CommandOutcome{ExitCode: 2, Duration: time.Minute, Stdout: long, Stderr: "boom"})
	send := func(id string) string {
		t.Helper()
		out, err := c.SendCommand(e.ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"),
			InstanceIds: []string{id}, Parameters: map[string][]string{"commands": {"true"}}})
		if err != nil {
			t.Fatalf("SendCommand: %v", err)
		}
		return aws.ToString(out.Command.CommandId)
	}
	sentAt := e.sim.Now().Truncate(time.Second)
	first := send(a)
	var others []string
	for range 3 {
		others = append(others, send(b))
	}

	// Still running, without details: no plugins.
	out, err := c.ListCommandInvocations(e.ctx, &ssm.ListCommandInvocationsInput{CommandId: aws.String(first)})
	if err != nil || len(out.CommandInvocations) != 1 {
		t.Fatalf("ListCommandInvocations(%s) = %+v, %v; want one", first, out, err)
	}
	inv := out.CommandInvocations[0]
	if aws.ToString(inv.InstanceId) != a || aws.ToString(inv.DocumentName) != "AWS-RunShellScript" ||
		inv.Status != ssmtypes.CommandInvocationStatusPending || inv.CommandPlugins != nil || !inv.RequestedDateTime.Equal(sentAt) {
		t.Errorf("invocation %+v, want a's pending command requested at %v, no plugins", inv, sentAt)
	}

	// Done, with details: the plugin's exit code and output, truncated to 2,500.
	e.advance(2 * time.Minute)
	out, err = c.ListCommandInvocations(e.ctx, &ssm.ListCommandInvocationsInput{InstanceId: aws.String(a), Details: true})
	if err != nil || len(out.CommandInvocations) != 1 || len(out.CommandInvocations[0].CommandPlugins) != 1 {
		t.Fatalf("ListCommandInvocations(%s, details) = %+v, %v; want one with a plugin", a, out, err)
	}
	inv = out.CommandInvocations[0]
	p := inv.CommandPlugins[0]
	if inv.Status != ssmtypes.CommandInvocationStatusFailed || aws.ToString(inv.StatusDetails) != "Failed" ||
		aws.ToString(p.Name) != "aws:runShellScript" || p.Status != ssmtypes.CommandPluginStatusFailed || p.ResponseCode != 2 {
		t.Errorf("invocation %+v plugin %+v, want Failed with exit 2", inv, p)
	}
	if got := aws.ToString(p.Output); got != long[:2500] {
		t.Errorf("plugin output is %d characters, want the first 2500 of stdout", len(got))
	}
	if p.ResponseFinishDateTime == nil || p.ResponseFinishDateTime.Sub(*p.ResponseStartDateTime) != time.Minute {
		t.Errorf("plugin ran %v–%v, want the outcome's minute", p.ResponseStartDateTime, p.ResponseFinishDateTime)
	}

	// Paging, newest first, over every command in the region.
	var got []string
	pg := ssm.NewListCommandInvocationsPaginator(c, &ssm.ListCommandInvocationsInput{MaxResults: aws.Int32(3)})
	pages := 0
	for pg.HasMorePages() {
		out, err := pg.NextPage(e.ctx)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		for _, inv := range out.CommandInvocations {
			got = append(got, aws.ToString(inv.CommandId))
		}
	}
	want := []string{others[2], others[1], others[0], first}
	if strings.Join(got, ",") != strings.Join(want, ",") || pages != 2 {
		t.Errorf("paged %v in %d pages, want %v in 2", got, pages, want)
	}

	// Refusals.
	_, err = c.ListCommandInvocations(e.ctx, &ssm.ListCommandInvocationsInput{
		Filters: []ssmtypes.CommandFilter{{Key: ssmtypes.CommandFilterKeyStatus, Value: aws.String("Success")}}})
	wantCode(t, err, "InvalidFilterKey", 400)
	_, err = c.ListCommandInvocations(e.ctx, &ssm.ListCommandInvocationsInput{NextToken: aws.String("bogus")})
	wantCode(t, err, "InvalidNextToken", 400)
	_, err = c.ListCommandInvocations(e.ctx, &ssm.ListCommandInvocationsInput{MaxResults: aws.Int32(51)})
	wantCode(t, err, "ValidationException", 400)
}
