package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/internal/daemon"
)

const usage = `nymwatch — incident detector for the Nym network

Usage:
  nymwatch run --config FILE          run the daemon
  nymwatch check-config --config FILE validate a config file (exit 0 if valid)
  nymwatch demo                       run against an embedded simulated network
  nymwatch incidents list|show|confirm|dismiss|resolve|edit ...
  nymwatch incidents channels|followups|credit|close ...
                                      client of the HTTP API (token from NYMWATCH_TOKEN)
  nymwatch maintenance add|list|end ...
                                      declare planned maintenance windows (token from NYMWATCH_TOKEN)
  nymwatch version                    print version information (also --version)

Run "nymwatch COMMAND --help" for a command's flags.
`

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, hup <-chan os.Signal) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runDaemon(ctx, rest, stdout, stderr, hup)
	case "demo":
		return runDemo(ctx, rest, stdout, stderr, hup)
	case "check-config":
		return runCheckConfig(rest, stdout, stderr)
	case "incidents":
		return disclosure.RunCLI(ctx, rest, stdout, stderr, os.Getenv)
	case "maintenance":
		return disclosure.RunMaintenanceCLI(ctx, rest, stdout, stderr, os.Getenv, nil)
	case "version", "--version", "-version":
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		fs.SetOutput(stderr)
		if err := fs.Parse(rest); err != nil {
			return flagExit(err)
		}
		fmt.Fprintln(stdout, version.Print("nymwatch"))
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "nymwatch: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// flagExit maps a flag parse error to an exit code: --help is success.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

type logFlags struct {
	level  *promslog.Level
	format *promslog.Format
}

func addLogFlags(fs *flag.FlagSet) *logFlags {
	lf := &logFlags{level: promslog.NewLevel(), format: promslog.NewFormat()}
	fs.Var(levelFlag{lf.level}, "log.level", "only log messages with the given severity or above: debug, info, warn, error")
	fs.Var(formatFlag{lf.format}, "log.format", "output format of log messages: logfmt, json")
	return lf
}

// levelFlag and formatFlag wrap promslog's values for the flag package,
// whose usage output calls String on a zero value, which promslog's own
// types do not survive.
type levelFlag struct{ l *promslog.Level }

func (f levelFlag) String() string {
	if f.l == nil {
		return "info"
	}
	return f.l.String()
}
func (f levelFlag) Set(s string) error { return f.l.Set(s) }

type formatFlag struct{ f *promslog.Format }

func (f formatFlag) String() string {
	if f.f == nil || f.f.String() == "" {
		return "logfmt"
	}
	return f.f.String()
}
func (f formatFlag) Set(s string) error { return f.f.Set(s) }

func (lf *logFlags) logger(w io.Writer) *slog.Logger {
	return promslog.New(&promslog.Config{Level: lf.level, Format: lf.format, Writer: w})
}

func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer, hup <-chan os.Signal) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/nymwatch/nymwatch.yml", "path to the YAML config file")
	lf := addLogFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: nymwatch run --config FILE [--log.level L] [--log.format F]\n\nRuns the daemon. SIGHUP reloads the config; SIGTERM stops it cleanly.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	logger := lf.logger(stderr)
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		logger.Error("invalid config", "file", *cfgPath, "err", err)
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	err = daemon.Run(ctx, daemon.Options{
		Config:     cfg,
		ConfigPath: *cfgPath,
		Logger:     logger,
		Registry:   prometheus.NewRegistry(),
		Reload:     hup,
		Getenv:     os.Getenv,
	})
	if err != nil {
		logger.Error("nymwatch stopped with an error", "err", err)
		return 1
	}
	return 0
}

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/nymwatch/nymwatch.yml", "path to the YAML config file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: nymwatch check-config --config FILE\n\nValidates FILE as nymwatch would load it (token files included).\nExits 0 if valid (printing FILE: key: warning: ... to stderr for settings worth a look);\notherwise prints FILE:LINE: key: problem for every problem and exits 1.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Valid, but worth a human's look: printed, never fatal.
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "%s: %s\n", *cfgPath, w)
	}
	fmt.Fprintf(stdout, "%s: OK\n", *cfgPath)
	return 0
}
