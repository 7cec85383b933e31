package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
)

// newCloud builds the cloud client from the configuration. Credentials are never
// configured here: the SDK's standard chain (and EC2_ACCESS_KEY/EC2_SECRET_KEY) finds them.
func newCloud(ctx context.Context, cfg *config.Config, log *slog.Logger) (*cloud.Client, error) {
	c, err := cloud.New(ctx, cloud.Config{
		Regions:      cfg.AWS.Regions,
		EndpointURL:  cfg.AWS.EndpointURL,
		Profile:      cfg.AWS.Profile,
		RunPerSecond: cfg.AWS.RunInstancesPerSecond,
		RunBurst:     cfg.AWS.RunInstancesBurst,
	}, log.With(logComponent, "cloud"))
	if err != nil {
		return nil, fmt.Errorf("cloud client: %w", err)
	}
	return c, nil
}

// checkIdentity asks STS whose credentials the daemon holds and logs the account and
// ARN (no secret is involved). Wrong or missing credentials fail here, at start-up, with
// a clear message instead of at the first user's launch.
func checkIdentity(ctx context.Context, cl *cloud.Client, log *slog.Logger) error {
	id, err := cl.CallerIdentity(ctx)
	if err != nil {
		return fmt.Errorf("check the daemon's cloud credentials (STS GetCallerIdentity): %w", err)
	}
	log.Info("cloud credentials", logAccount, id.Account, logARN, id.ARN)
	return nil
}

// loadWithCloud is the start of every command that talks to the cloud: the
// configuration, the logger at its level, and the cloud client built from both.
func (env *Env) loadWithCloud() (*config.Config, *slog.Logger, *cloud.Client, error) {
	cfg, err := env.loadConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	log := env.logger(cfg.Broker.LogLevel)
	cl, err := newCloud(env.Ctx, cfg, log)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, log, cl, nil
}
