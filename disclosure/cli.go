package disclosure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

const cliUsage = `Usage: nymwatch incidents [--server URL] <command> [arguments]

Commands:
  list [--state S] [--class C] [--json]     list incidents, newest first
  show ID [--report]                        show an incident (JSON), or its report (Markdown)
  confirm ID                                confirm a draft for public disclosure
  dismiss ID --reason TEXT                  dismiss a draft: not disclosed, kept as an internal record
  resolve ID                                service restored: a confirmed incident is resolved
  edit ID --field F --value V | F=V ...     edit report fields (%s)
  publish ID [--status S] [--body TEXT]     publish a confirmed incident: freeze its report
  update ID --status S --body TEXT          append a published update (investigating,
                                            identified, monitoring, resolved)
  channels ID [NAME [--undo] [--note T]]    show the channels checklist, or tick (un-tick) a channel
  followups ID [SEQ [--undo] [--note T]]    show the follow-ups, or mark one done (open again)
  followups ID --add TITLE [--due TIME]     add a follow-up (TIME: RFC 3339, or a duration from now)
  credit ID [--name N --channel C --at TIME [--link URL]]
                                            show the credited reporters, or credit one
                                            (C: discord, telegram, x, support_ticket, email, other)
  close ID                                  close a resolved incident (follow-ups done or not)

Every command takes --server URL (default %s, or $NYMWATCH_SERVER) and --help.

Environment:
  NYMWATCH_TOKEN   operator token (the content of auth.operator_token_file);
                   needed by confirm, dismiss, resolve, edit, publish
                   and update. list and
                   show send it too, and also take the read-only viewer
                   token (auth.viewer_token_file): drafts are private
                   unless the server sets web.public_read
  NYMWATCH_SERVER  default for --server
  NYMWATCH_ACTOR   your name in the audit trail (default $USER)
`

// Exit codes of RunCLI.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// maxValueFileBytes matches what the server accepts in one request.
const maxValueFileBytes = DefaultMaxBodyBytes

type incidentsCLI struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	server         string
	// name is the command group ("incidents" if empty, "maintenance").
	name string
}

func (c *incidentsCLI) group() string {
	if c.name == "" {
		return "incidents"
	}
	return c.name
}

// RunCLI runs `nymwatch incidents <args>` as a client of the incidents HTTP
// API; args are the arguments after "incidents". It returns the exit code:
// 0 success, 1 failure, 2 usage error.
func RunCLI(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &incidentsCLI{stdout: stdout, stderr: stderr, getenv: getenv, server: DefaultServer}
	if s := strings.TrimSpace(getenv("NYMWATCH_SERVER")); s != "" {
		c.server = s
	}
	fs := c.flags("incidents")
	if err := fs.Parse(args); err != nil {
		return c.usageError(err, "")
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprintf(stderr, cliUsage, strings.Join(ReportFieldNames(), ", "), DefaultServer)
		return exitUsage
	}
	cmd, rest := rest[0], rest[1:]
	switch cmd {
	case "list":
		return c.list(ctx, rest)
	case "show":
		return c.show(ctx, rest)
	case "confirm", "resolve", "close":
		return c.transition(ctx, cmd, rest)
	case "channels":
		return c.channels(ctx, rest)
	case "followups":
		return c.followups(ctx, rest)
	case "credit":
		return c.credit(ctx, rest)
	case "dismiss":
		return c.dismiss(ctx, rest)
	case "edit":
		return c.edit(ctx, rest)
	case "publish", "update":
		return c.publication(ctx, cmd, rest)
	case "help":
		fmt.Fprintf(stdout, cliUsage, strings.Join(ReportFieldNames(), ", "), DefaultServer)
		return exitOK
	default:
		fmt.Fprintf(stderr, "nymwatch incidents: unknown command %q\n\n", cmd)
		fmt.Fprintf(stderr, cliUsage, strings.Join(ReportFieldNames(), ", "), DefaultServer)
		return exitUsage
	}
}

// flags makes a flag set with --server; its usage goes where the caller says.
func (c *incidentsCLI) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // we print usage ourselves, to stdout for --help
	fs.StringVar(&c.server, "server", c.server, "nymwatch API base `URL`")
	return fs
}

func (c *incidentsCLI) commandUsage(fs *flag.FlagSet, synopsis string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: nymwatch %s %s\n\nFlags:\n", c.group(), synopsis)
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

// usageError handles a flag parsing error: --help prints usage on stdout
// and succeeds; anything else is a usage error on stderr.
func (c *incidentsCLI) usageError(err error, usage string) int {
	if usage == "" {
		usage = fmt.Sprintf(cliUsage, strings.Join(ReportFieldNames(), ", "), DefaultServer)
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.stdout, usage)
		return exitOK
	}
	fmt.Fprintf(c.stderr, "nymwatch %s: %v\n\n%s", c.group(), err, usage)
	return exitUsage
}

// parse parses flags and positional arguments in any order.
func cliParse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *incidentsCLI) client(withToken bool) (*apiClient, error) {
	token := ""
	if withToken {
		token = strings.TrimSpace(c.getenv("NYMWATCH_TOKEN"))
	}
	actor := c.getenv("NYMWATCH_ACTOR")
	if actor == "" {
		actor = c.getenv("USER")
	}
	return newAPIClient(c.server, token, actor)
}

// fail explains an error for a human and returns the exit code.
func (c *incidentsCLI) fail(cmd string, err error) int {
	var (
		api         *apiError
		unreachable *unreachableError
	)
	msg := err.Error()
	switch {
	case errors.As(err, &unreachable):
	case errors.As(err, &api):
		switch api.Status {
		case http.StatusUnauthorized:
			msg = "unauthorized (" + api.Message + "): set NYMWATCH_TOKEN to the operator token (the content of the file named by auth.operator_token_file)"
			if c.getenv("NYMWATCH_TOKEN") == "" {
				msg = "unauthorized: NYMWATCH_TOKEN is not set; set it to the operator token (the content of the file named by auth.operator_token_file)"
			}
		case http.StatusForbidden:
			msg = "forbidden: " + api.Message
		case http.StatusTooManyRequests:
			msg = "too many failed authentications from this address: " + api.Message
		case http.StatusNotFound:
			msg = "not found: " + api.Message
		case http.StatusConflict:
			msg = "conflict: " + api.Message
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			msg = "rejected: " + api.Message
		default:
			msg = "server error: " + api.Error()
		}
	}
	fmt.Fprintf(c.stderr, "nymwatch %s %s: %s\n", c.group(), cmd, msg)
	return exitError
}

func (c *incidentsCLI) list(ctx context.Context, args []string) int {
	fs := c.flags("list")
	state := fs.String("state", "", "only incidents in `STATE` (internal, draft, confirmed, dismissed, resolved, closed)")
	class := fs.String("class", "", "only incidents of `CLASS` (security, operational, internal)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	usage := c.commandUsage(fs, "list [--state S] [--class C] [--json]")
	pos, err := cliParse(fs, args)
	if err != nil {
		return c.usageError(err, usage)
	}
	if len(pos) > 0 {
		return c.usageError(fmt.Errorf("list takes no arguments, got %q", pos), usage)
	}
	cl, err := c.client(true) // drafts are private: reads need a token too
	if err != nil {
		return c.usageError(err, usage)
	}
	raw, incs, err := cl.list(ctx, *state, *class)
	if err != nil {
		return c.fail("list", err)
	}
	if *asJSON {
		return c.printJSON("list", raw)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tCLASS\tARCHITECTURE\tFIRST SEEN (UTC)\tRESOLVED (UTC)\tTITLE")
	for _, inc := range incs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(inc.ID), inc.State, inc.Class, inc.Architecture,
			orDash(inc.FirstSeen), orDash(inc.ResolvedAt), oneLine(inc.Title))
	}
	if err := tw.Flush(); err != nil {
		return c.fail("list", err)
	}
	if len(incs) == 0 {
		fmt.Fprintln(c.stderr, "no incidents")
	}
	return exitOK
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

func (c *incidentsCLI) printJSON(cmd string, raw []byte) int {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return c.fail(cmd, fmt.Errorf("server sent invalid JSON: %w", err))
	}
	b.WriteByte('\n')
	if _, err := c.stdout.Write(b.Bytes()); err != nil {
		return c.fail(cmd, err)
	}
	return exitOK
}

// oneID parses a command that takes exactly one incident ID.
func (c *incidentsCLI) oneID(fs *flag.FlagSet, args []string, usage string) (string, int, bool) {
	pos, err := cliParse(fs, args)
	if err != nil {
		return "", c.usageError(err, usage), false
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return "", c.usageError(errors.New("need exactly one incident ID"), usage), false
	}
	return pos[0], 0, true
}

func (c *incidentsCLI) show(ctx context.Context, args []string) int {
	fs := c.flags("show")
	report := fs.Bool("report", false, "print the incident report (Markdown) instead of JSON")
	usage := c.commandUsage(fs, "show ID [--report]")
	id, code, ok := c.oneID(fs, args, usage)
	if !ok {
		return code
	}
	cl, err := c.client(true) // drafts are private: reads need a token too
	if err != nil {
		return c.usageError(err, usage)
	}
	if *report {
		b, err := cl.report(ctx, id)
		if err != nil {
			return c.fail("show", err)
		}
		if _, err := c.stdout.Write(b); err != nil {
			return c.fail("show", err)
		}
		return exitOK
	}
	b, err := cl.get(ctx, id)
	if err != nil {
		return c.fail("show", err)
	}
	return c.printJSON("show", b)
}

// printChanged reports the incident's new state after a change.
func (c *incidentsCLI) printChanged(cmd string, raw []byte, what string) int {
	var inc struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if err := json.Unmarshal(raw, &inc); err != nil {
		return c.fail(cmd, fmt.Errorf("server sent invalid JSON: %w", err))
	}
	fmt.Fprintf(c.stdout, "%s: %s (state %s)\n", oneLine(inc.ID), what, oneLine(inc.State))
	return exitOK
}

func (c *incidentsCLI) transition(ctx context.Context, cmd string, args []string) int {
	fs := c.flags(cmd)
	usage := c.commandUsage(fs, cmd+" ID")
	id, code, ok := c.oneID(fs, args, usage)
	if !ok {
		return code
	}
	cl, err := c.client(true)
	if err != nil {
		return c.usageError(err, usage)
	}
	b, err := cl.action(ctx, id, cmd, nil)
	if err != nil {
		return c.fail(cmd, err)
	}
	return c.printChanged(cmd, b, pastTense(cmd))
}

func (c *incidentsCLI) dismiss(ctx context.Context, args []string) int {
	fs := c.flags("dismiss")
	reason := fs.String("reason", "", "why the draft is not disclosed (required)")
	usage := c.commandUsage(fs, `dismiss ID --reason "TEXT"`)
	id, code, ok := c.oneID(fs, args, usage)
	if !ok {
		return code
	}
	if strings.TrimSpace(*reason) == "" {
		return c.usageError(errors.New("dismiss needs --reason"), usage)
	}
	cl, err := c.client(true)
	if err != nil {
		return c.usageError(err, usage)
	}
	b, err := cl.action(ctx, id, "dismiss", map[string]string{"reason": *reason})
	if err != nil {
		return c.fail("dismiss", err)
	}
	return c.printChanged("dismiss", b, "dismissed")
}

func (c *incidentsCLI) edit(ctx context.Context, args []string) int {
	fs := c.flags("edit")
	field := fs.String("field", "", "report `FIELD` to set ("+strings.Join(ReportFieldNames(), ", ")+")")
	value := fs.String("value", "", "new text of --field")
	valueFile := fs.String("value-file", "", "read the new text of --field from `PATH`")
	usage := c.commandUsage(fs, "edit ID --field F (--value V | --value-file PATH) | edit ID F=V [F=V ...]")
	pos, err := cliParse(fs, args)
	if err != nil {
		return c.usageError(err, usage)
	}
	if len(pos) == 0 || strings.TrimSpace(pos[0]) == "" {
		return c.usageError(errors.New("need an incident ID"), usage)
	}
	id := pos[0]
	fields := map[string]string{}
	for _, p := range pos[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return c.usageError(fmt.Errorf("argument %q: want FIELD=VALUE", p), usage)
		}
		fields[k] = v
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["value"] && set["value-file"]:
		return c.usageError(errors.New("use --value or --value-file, not both"), usage)
	case *field == "" && (set["value"] || set["value-file"]):
		return c.usageError(errors.New("--value and --value-file need --field"), usage)
	case *field != "" && !set["value"] && !set["value-file"]:
		return c.usageError(errors.New("--field needs --value or --value-file"), usage)
	case *field != "" && set["value-file"]:
		v, err := readValueFile(*valueFile)
		if err != nil {
			return c.fail("edit", err)
		}
		fields[*field] = v
	case *field != "":
		fields[*field] = *value
	}
	if len(fields) == 0 {
		return c.usageError(errors.New("nothing to edit"), usage)
	}
	cl, err := c.client(true)
	if err != nil {
		return c.usageError(err, usage)
	}
	b, err := cl.edit(ctx, id, fields)
	if err != nil {
		return c.fail("edit", err)
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return c.printChanged("edit", b, "edited "+strings.Join(names, ", "))
}

func readValueFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--value-file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxValueFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("--value-file %s: %w", path, err)
	}
	if len(b) > maxValueFileBytes {
		return "", fmt.Errorf("--value-file %s: larger than %d bytes", path, maxValueFileBytes)
	}
	return string(b), nil
}
