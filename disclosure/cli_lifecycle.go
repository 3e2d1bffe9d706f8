package disclosure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The CLI of the incident's life after "confirm" (docs/follow-ups.md).

// lifecycleView is the part of the incident JSON these commands print.
type lifecycleView struct {
	ID        string         `json:"id"`
	State     string         `json:"state"`
	Channels  []channelView  `json:"channels"`
	FollowUps []followUpView `json:"follow_ups"`
	Reporters []reporterView `json:"reporters"`
}

type channelView struct {
	Name   string  `json:"name"`
	Done   bool    `json:"done"`
	DoneAt *string `json:"done_at"`
	DoneBy string  `json:"done_by"`
	Note   string  `json:"note"`
}

type followUpView struct {
	Seq     int     `json:"seq"`
	Title   string  `json:"title"`
	Phase   string  `json:"phase"`
	DueAt   *string `json:"due_at"`
	Overdue bool    `json:"overdue"`
	Done    bool    `json:"done"`
	DoneAt  *string `json:"done_at"`
	DoneBy  string  `json:"done_by"`
	Note    string  `json:"note"`
}

type reporterView struct {
	Name       string `json:"name"`
	Channel    string `json:"channel"`
	ReportedAt string `json:"reported_at"`
	Link       string `json:"link"`
	AddedBy    string `json:"added_by"`
}

// lifecyclePath is an incident's sub-resource; the client escapes it
// (channel names may hold spaces, never '/').
func lifecyclePath(id, suffix string) string { return "/api/v1/incidents/" + id + suffix }

func (c *incidentsCLI) lifecycleCall(ctx context.Context, cmd string, method, path string, body any) (*lifecycleView, int) {
	cl, err := c.client(true)
	if err != nil {
		return nil, c.usageError(err, "")
	}
	raw, err := cl.do(ctx, method, path, nil, body)
	if err != nil {
		return nil, c.fail(cmd, err)
	}
	var v lifecycleView
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, c.fail(cmd, fmt.Errorf("server sent invalid JSON: %w", err))
	}
	return &v, exitOK
}

func (c *incidentsCLI) channels(ctx context.Context, args []string) int {
	fs := c.flags("channels")
	undo := fs.Bool("undo", false, "un-tick the channel")
	note := fs.String("note", "", "a note (where it was posted, a link)")
	usage := c.commandUsage(fs, "channels ID [NAME [--undo] [--note TEXT]]")
	pos, err := cliParse(fs, args)
	if err != nil {
		return c.usageError(err, usage)
	}
	if len(pos) < 1 || len(pos) > 2 || strings.TrimSpace(pos[0]) == "" {
		return c.usageError(errors.New("need an incident ID and optionally a channel name"), usage)
	}
	method, path, body := http.MethodGet, lifecyclePath(pos[0], ""), any(nil)
	if len(pos) == 2 {
		method, path = http.MethodPost, lifecyclePath(pos[0], "/channels/"+pos[1])
		body = map[string]any{"done": !*undo, "note": *note}
	}
	v, code := c.lifecycleCall(ctx, "channels", method, path, body)
	if v == nil {
		return code
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DONE\tCHANNEL\tWHEN (UTC)\tWHO\tNOTE")
	for _, ch := range v.Channels {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", yesNo(ch.Done), oneLine(ch.Name), orDash(ch.DoneAt), oneLine(ch.DoneBy), oneLine(ch.Note))
	}
	if len(v.Channels) == 0 {
		fmt.Fprintf(c.stderr, "%s has no channels checklist (state %s): it is created on confirmation\n", oneLine(v.ID), oneLine(v.State))
	}
	return flushed(c, "channels", tw)
}

func (c *incidentsCLI) followups(ctx context.Context, args []string) int {
	fs := c.flags("followups")
	undo := fs.Bool("undo", false, "open the follow-up again")
	note := fs.String("note", "", "a note (what was done, a link)")
	add := fs.String("add", "", "add a follow-up with this `TITLE`")
	due := fs.String("due", "", "due `TIME` of an added follow-up: RFC 3339, or a duration from now (72h)")
	usage := c.commandUsage(fs, "followups ID [SEQ [--undo] [--note TEXT]] | followups ID --add TITLE [--due TIME]")
	pos, err := cliParse(fs, args)
	if err != nil {
		return c.usageError(err, usage)
	}
	if len(pos) < 1 || len(pos) > 2 || strings.TrimSpace(pos[0]) == "" {
		return c.usageError(errors.New("need an incident ID and optionally a follow-up number"), usage)
	}
	method, path, body := http.MethodGet, lifecyclePath(pos[0], ""), any(nil)
	switch {
	case *add != "":
		if len(pos) != 1 {
			return c.usageError(errors.New("--add takes no follow-up number"), usage)
		}
		b := map[string]any{"title": *add}
		if *due != "" {
			t, err := parseDue(*due, time.Now())
			if err != nil {
				return c.usageError(err, usage)
			}
			b["due_at"] = FormatTime(t)
		}
		method, path, body = http.MethodPost, lifecyclePath(pos[0], "/followups"), b
	case len(pos) == 2:
		if _, err := strconv.Atoi(pos[1]); err != nil {
			return c.usageError(fmt.Errorf("follow-up number %q is not a number", pos[1]), usage)
		}
		method, path = http.MethodPost, lifecyclePath(pos[0], "/followups/"+pos[1])
		body = map[string]any{"done": !*undo, "note": *note}
	}
	v, code := c.lifecycleCall(ctx, "followups", method, path, body)
	if v == nil {
		return code
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tSTATUS\tDUE (UTC)\tPHASE\tTITLE\tDONE BY\tNOTE")
	for _, f := range v.FollowUps {
		status := "open"
		switch {
		case f.Done:
			status = "done"
		case f.Overdue:
			status = "OVERDUE"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Seq, status, orDash(f.DueAt), f.Phase, oneLine(f.Title), oneLine(f.DoneBy), oneLine(f.Note))
	}
	if len(v.FollowUps) == 0 {
		fmt.Fprintf(c.stderr, "%s has no follow-ups (state %s): they are created on confirmation\n", oneLine(v.ID), oneLine(v.State))
	}
	if code := flushed(c, "followups", tw); code != exitOK {
		return code
	}
	fmt.Fprintf(c.stdout, "state: %s\n", oneLine(v.State))
	return exitOK
}

func (c *incidentsCLI) credit(ctx context.Context, args []string) int {
	fs := c.flags("credit")
	name := fs.String("name", "", "the reporter's name or handle")
	channel := fs.String("channel", "", "where they reported it: "+strings.Join(ReporterChannels(), ", "))
	at := fs.String("at", "", "when they reported it: RFC 3339, or a duration ago (2h)")
	link := fs.String("link", "", "optional http(s) link to the report")
	usage := c.commandUsage(fs, "credit ID [--name N --channel C --at TIME [--link URL]]")
	id, code, ok := c.oneID(fs, args, usage)
	if !ok {
		return code
	}
	method, path, body := http.MethodGet, lifecyclePath(id, ""), any(nil)
	if *name != "" || *channel != "" || *at != "" || *link != "" {
		if *name == "" || *channel == "" || *at == "" {
			return c.usageError(errors.New("crediting needs --name, --channel and --at"), usage)
		}
		t, err := parseAgo(*at, time.Now())
		if err != nil {
			return c.usageError(err, usage)
		}
		method, path = http.MethodPost, lifecyclePath(id, "/reporters")
		body = map[string]any{"name": *name, "channel": *channel, "reported_at": FormatTime(t), "link": *link}
	}
	v, code := c.lifecycleCall(ctx, "credit", method, path, body)
	if v == nil {
		return code
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPORTED (UTC)\tCHANNEL\tNAME\tLINK\tADDED BY")
	for _, r := range v.Reporters {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", oneLine(r.ReportedAt), oneLine(r.Channel), oneLine(r.Name), oneLine(r.Link), oneLine(r.AddedBy))
	}
	return flushed(c, "credit", tw)
}

func flushed(c *incidentsCLI, cmd string, tw *tabwriter.Writer) int {
	if err := tw.Flush(); err != nil {
		return c.fail(cmd, err)
	}
	return exitOK
}

func yesNo(b bool) string {
	if b {
		return "[x]"
	}
	return "[ ]"
}

// parseDue reads RFC 3339, or a Go duration from now.
func parseDue(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2026-12-01T10:00:00Z) or a positive duration (72h)", s)
	}
	return now.Add(d), nil
}

// parseAgo reads RFC 3339, or a Go duration before now.
func parseAgo(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2026-12-01T10:00:00Z) or a duration ago (2h)", s)
	}
	return now.Add(-d), nil
}
