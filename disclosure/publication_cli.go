package disclosure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// publication runs `incidents publish ID [--status S] [--body TEXT]` and
// `incidents update ID --status S --body TEXT`.
func (c *incidentsCLI) publication(ctx context.Context, cmd string, args []string) int {
	fs := c.flags(cmd)
	status := fs.String("status", "", "`STATUS` of the published update: investigating, identified, monitoring or resolved")
	body := fs.String("body", "", "the `TEXT` the public reads")
	synopsis := `update ID --status S --body "TEXT"`
	if cmd == "publish" {
		synopsis = `publish ID [--status S] [--body "TEXT"]`
	}
	usage := c.commandUsage(fs, synopsis)
	id, code, ok := c.oneID(fs, args, usage)
	if !ok {
		return code
	}
	if cmd == "update" && (*status == "" || strings.TrimSpace(*body) == "") {
		return c.usageError(errors.New("update needs --status and --body"), usage)
	}
	if *status != "" && !UpdateStatus(*status).Valid() {
		return c.usageError(fmt.Errorf("unknown --status %q (investigating, identified, monitoring, resolved)", *status), usage)
	}
	cl, err := c.client(true)
	if err != nil {
		return c.usageError(err, usage)
	}
	req := map[string]string{}
	if *status != "" {
		req["status"] = *status
	}
	if *body != "" {
		req["body"] = *body
	}
	action := "publish"
	if cmd == "update" {
		action = "updates"
	}
	b, err := cl.action(ctx, id, action, req)
	if err != nil {
		return c.fail(cmd, err)
	}
	var inc struct {
		ID          string  `json:"id"`
		PublishedAt *string `json:"published_at"`
		Updates     []struct {
			Status string `json:"status"`
		} `json:"updates"`
	}
	if err := json.Unmarshal(b, &inc); err != nil || inc.PublishedAt == nil || len(inc.Updates) == 0 {
		return c.fail(cmd, fmt.Errorf("server sent an unexpected answer: %s", oneLine(string(b))))
	}
	last := inc.Updates[len(inc.Updates)-1].Status
	if cmd == "publish" {
		fmt.Fprintf(c.stdout, "%s: published at %s (status %s)\n", oneLine(inc.ID), oneLine(*inc.PublishedAt), oneLine(last))
	} else {
		fmt.Fprintf(c.stdout, "%s: update %d published (status %s)\n", oneLine(inc.ID), len(inc.Updates), oneLine(last))
	}
	return exitOK
}
