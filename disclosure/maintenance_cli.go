package disclosure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

const maintenanceUsage = `Usage: nymwatch maintenance [--server URL] <command> [arguments]

Declare planned maintenance: while a window is active, failures of what it
matches are recorded as internal (policy II: routine maintenance) and not
paged. A window never suppresses security. If the thing still fails when
the window ends, it is paged as usual, with its real first_seen.

Commands:
  add --service NAME | --component C | --node ID ... --reason TEXT
      [--start TIME] (--end TIME | --duration D) [--json]
                         declare a window (start defaults to now; at most 7 days)
  list [--all] [--json]  active and upcoming windows (--all: ended ones too)
  end ID [--reason TEXT] end a window now (cancels an upcoming one)

TIME is RFC 3339 (2026-12-04T15:00:00Z) or "now"; D is a duration (90m, 2h, 1d).
--service, --component and --node may be repeated; a window needs at least one.
Components: entry_gateways, exit_gateways, mixnodes_layer1..3, standby_nodes,
country/XX, service/NAME, node/ID, alert/NAME.

Every command takes --server URL (default %s, or $NYMWATCH_SERVER) and --help.

Environment:
  NYMWATCH_TOKEN   operator token (the content of auth.operator_token_file);
                   every maintenance command needs it
  NYMWATCH_SERVER  default for --server
  NYMWATCH_ACTOR   your name in the audit trail (default $USER)
`

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(s string) error { *r = append(*r, s); return nil }

// RunMaintenanceCLI runs `nymwatch maintenance <args>` as a client of the
// maintenance HTTP API; args are the arguments after "maintenance". It
// returns the exit code: 0 success, 1 failure, 2 usage error. now is the
// clock of --start now and --duration (nil: time.Now).
func RunMaintenanceCLI(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) int {
	c := &incidentsCLI{stdout: stdout, stderr: stderr, getenv: getenv, server: DefaultServer, name: "maintenance"}
	if s := strings.TrimSpace(getenv("NYMWATCH_SERVER")); s != "" {
		c.server = s
	}
	if now == nil {
		now = time.Now
	}
	usage := fmt.Sprintf(maintenanceUsage, DefaultServer)
	fs := c.flags("maintenance")
	if err := fs.Parse(args); err != nil {
		return c.usageError(err, usage)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := rest[0], rest[1:]
	switch cmd {
	case "add":
		return c.maintAdd(ctx, rest, now().UTC())
	case "list", "ls":
		return c.maintList(ctx, rest, now().UTC())
	case "end":
		return c.maintEnd(ctx, rest)
	case "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "nymwatch maintenance: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

func (c *incidentsCLI) maintAdd(ctx context.Context, args []string, now time.Time) int {
	fs := c.flags("add")
	var services, components, nodes repeated
	fs.Var(&services, "service", "a configured service `NAME` (services[].name), e.g. nym-api; repeatable")
	fs.Var(&components, "component", "a `COMPONENT` such as exit_gateways, country/DE or service/nym-api; repeatable")
	fs.Var(&nodes, "node", "a node `ID`; repeatable")
	start := fs.String("start", "now", "start `TIME` (RFC 3339 UTC, or now)")
	end := fs.String("end", "", "end `TIME` (RFC 3339 UTC)")
	duration := fs.String("duration", "", "length `D` instead of --end (90m, 2h, 1d)")
	reason := fs.String("reason", "", "why (required; shown in the incident record and the audit trail)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	usage := c.commandUsage(fs, "add (--service NAME | --component C | --node ID)... --reason TEXT [--start TIME] (--end TIME | --duration D)")
	pos, err := cliParse(fs, args)
	if err != nil {
		return c.usageError(err, usage)
	}
	switch {
	case len(pos) > 0:
		return c.usageError(fmt.Errorf("add takes no arguments, got %q", pos), usage)
	case len(services)+len(components)+len(nodes) == 0:
		return c.usageError(errors.New("add needs at least one --service, --component or --node: a window must match something specific"), usage)
	case strings.TrimSpace(*reason) == "":
		return c.usageError(errors.New("add needs --reason"), usage)
	case (*end == "") == (*duration == ""):
		return c.usageError(errors.New("add needs --end or --duration (one of them)"), usage)
	}
	body := map[string]any{"reason": *reason}
	var ms []Matcher
	for _, l := range []struct {
		name string
		vs   []string
	}{{MatchService, services}, {MatchComponent, components}, {MatchNode, nodes}} {
		for _, v := range l.vs {
			ms = append(ms, Matcher{Name: l.name, Value: v})
		}
	}
	body["matchers"] = ms
	startT := now
	if s := strings.TrimSpace(*start); s != "" && !strings.EqualFold(s, "now") {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return c.usageError(fmt.Errorf("--start %q: want RFC 3339, such as %s, or now", s, now.Add(time.Hour).Format(time.RFC3339)), usage)
		}
		startT = t.UTC()
	}
	body["start"] = startT.Format(time.RFC3339Nano)
	if *end != "" {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(*end))
		if err != nil {
			return c.usageError(fmt.Errorf("--end %q: want RFC 3339, such as %s", *end, now.Add(time.Hour).Format(time.RFC3339)), usage)
		}
		body["end"] = t.UTC().Format(time.RFC3339Nano)
	} else {
		d, err := ParseMaintenanceDuration(*duration)
		if err != nil {
			return c.usageError(fmt.Errorf("--duration: %w", err), usage)
		}
		body["end"] = startT.Add(d).Format(time.RFC3339Nano)
	}
	cl, err := c.client(true)
	if err != nil {
		return c.usageError(err, usage)
	}
	raw, err := cl.do(ctx, http.MethodPost, "/api/v1/maintenance", nil, body)
	if err != nil {
		return c.fail("add", err)
	}
	if *asJSON {
		return c.printJSON("add", raw)
	}
	var w listedWindow
	if err := json.Unmarshal(raw, &w); err != nil {
		return c.fail("add", fmt.Errorf("server sent invalid JSON: %w", err))
	}
	fmt.Fprintf(c.stdout, "%s: %s from %s until %s (%s)\n", oneLine(w.ID), oneLine(w.State), orDash(w.Start), orDash(w.End), w.matches())
	return exitOK
}

// listedWindow is what the CLI shows of a window.
type listedWindow struct {
	ID           string    `json:"id"`
	State        string    `json:"state"`
	Matchers     []Matcher `json:"matchers"`
	Start        *string   `json:"start"`
	End          *string   `json:"end"`
	EffectiveEnd *string   `json:"effective_end"`
	Reason       string    `json:"reason"`
	Who          string    `json:"who"`
	EndedBy      *string   `json:"ended_by"`
}

func (w *listedWindow) matches() string {
	var parts []string
	for _, m := range w.Matchers {
		parts = append(parts, oneLine(m.Name)+"="+oneLine(m.Value))
	}
	return strings.Join(parts, ",")
}

func (c *incidentsCLI) maintList(ctx context.Context, args []string, now time.Time) int {
	fs := c.flags("list")
	all := fs.Bool("all", false, "include ended windows")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	usage := c.commandUsage(fs, "list [--all] [--json]")
	pos, err := cliParse(fs, args)
	if err != nil {
		return c.usageError(err, usage)
	}
	if len(pos) > 0 {
		return c.usageError(fmt.Errorf("list takes no arguments, got %q", pos), usage)
	}
	cl, err := c.client(true)
	if err != nil {
		return c.usageError(err, usage)
	}
	q := url.Values{}
	if *all {
		q.Set("include_ended", "true")
	}
	raw, err := cl.do(ctx, http.MethodGet, "/api/v1/maintenance", q, nil)
	if err != nil {
		return c.fail("list", err)
	}
	if *asJSON {
		return c.printJSON("list", raw)
	}
	var out struct {
		Maintenance []listedWindow `json:"maintenance"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return c.fail("list", fmt.Errorf("decode maintenance list: %w", err))
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSTART (UTC)\tEND (UTC)\tBY\tMATCHES\tREASON")
	for _, w := range out.Maintenance {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(w.ID), oneLine(w.State), orDash(w.Start), orDash(w.EffectiveEnd),
			oneLine(w.Who), w.matches(), oneLine(w.Reason))
	}
	if err := tw.Flush(); err != nil {
		return c.fail("list", err)
	}
	if len(out.Maintenance) == 0 {
		fmt.Fprintln(c.stderr, "no maintenance windows")
	}
	return exitOK
}

func (c *incidentsCLI) maintEnd(ctx context.Context, args []string) int {
	fs := c.flags("end")
	reason := fs.String("reason", "", "why it ends early (recorded in the audit trail)")
	usage := c.commandUsage(fs, `end ID [--reason "TEXT"]`)
	pos, err := cliParse(fs, args)
	if err != nil {
		return c.usageError(err, usage)
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return c.usageError(errors.New("need exactly one window ID (such as M-3)"), usage)
	}
	cl, err := c.client(true)
	if err != nil {
		return c.usageError(err, usage)
	}
	var body any
	if *reason != "" {
		body = map[string]string{"reason": *reason}
	}
	raw, err := cl.do(ctx, http.MethodDelete, "/api/v1/maintenance/"+url.PathEscape(strings.TrimSpace(pos[0])), nil, body)
	if err != nil {
		return c.fail("end", err)
	}
	var w listedWindow
	if err := json.Unmarshal(raw, &w); err != nil {
		return c.fail("end", fmt.Errorf("server sent invalid JSON: %w", err))
	}
	fmt.Fprintf(c.stdout, "%s: ended at %s (state %s)\n", oneLine(w.ID), orDash(w.EffectiveEnd), oneLine(w.State))
	return exitOK
}
