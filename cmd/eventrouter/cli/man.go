package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// runMan writes the man page, eventrouter(1), in roff.
func (a *app) runMan(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("man", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: eventrouter man

Prints the man page eventrouter(1) in roff, made from the commands' own
usage. The packages install it; to read it without installing:

  eventrouter man | man -l -
`)
	}
	if code, ok := parseNoArgs(fs, args, stderr); !ok {
		return code
	}
	fmt.Fprint(stdout, a.manPage())
	return 0
}

// manPage returns eventrouter(1) in roff.
func (a *app) manPage() string {
	docs := a.commandDocs()
	var b strings.Builder
	version := resolveBuild(a.version, a.commit, noBuildInfo).version
	fmt.Fprintf(&b, ".TH EVENTROUTER 1 \"\" \"eventrouter %s\" \"User Commands\"\n", roffText(version))
	b.WriteString(".SH NAME\neventrouter \\- Socket.IO v4 event router programmed with a YAML file\n")
	b.WriteString(".SH SYNOPSIS\n")
	for _, d := range docs {
		if syn, ok := strings.CutPrefix(firstLine(d.usage), "Usage: "); ok {
			fmt.Fprintf(&b, ".B %s\n.br\n", roffText(syn))
		}
	}
	b.WriteString(".SH DESCRIPTION\n")
	var overview bytes.Buffer
	a.usage(&overview)
	b.WriteString(roffText(firstLine(overview.String())) + "\n")
	b.WriteString(".PP\nEvery event a Socket.IO client sends, every connection and disconnection, " +
		"and every HTTP request to a configured route is routed to rules written in the config file. " +
		"A bare\n.B eventrouter\nruns the daemon, as\n.BR \"eventrouter run\" .\n")
	b.WriteString(".SH COMMANDS\n")
	for _, d := range docs {
		fmt.Fprintf(&b, ".SS %s\n%s\n.PP\n.nf\n", roffText(d.name), roffText(d.summary))
		for _, l := range strings.Split(d.usage, "\n") {
			b.WriteString(roffLine(l) + "\n")
		}
		b.WriteString(".fi\n")
	}
	b.WriteString(`.SH FILES
.TP
.I /etc/eventrouter/config.yaml
The config the packaged systemd unit runs, with its rule tests in
.IR /etc/eventrouter/config_test.yaml .
.TP
.I /etc/eventrouter/eventrouter.env
Optional EVENTROUTER_* overrides read by the unit.
.TP
.I /lib/systemd/system/eventrouter.service
The hardened systemd unit: a DynamicUser, reload with
.BR "systemctl reload eventrouter" .
.TP
.I /usr/share/eventrouter/config.schema.json
The JSON Schema of the config, for editors
.RB ( "eventrouter schema" ).
.SH ENVIRONMENT
.TP
.B EVENTROUTER_*
Override config keys: EVENTROUTER_SERVER_LISTEN=:8080 sets server.listen;
EVENTROUTER_VARS_NAME=value sets vars.name and counts as a secret.
.SH EXIT STATUS
0 on success, 1 on failure (an invalid config, a failing rule test), 2 on a usage error.
.SH SEE ALSO
.BR systemctl (1),
.BR systemd.exec (5);
the documentation in
.IR /usr/share/doc/eventrouter .
`)
	return b.String()
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// roffText escapes text for roff: backslashes, and hyphens as minus signs
// where they start an option.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}

// roffLine escapes one line of preformatted text: a line that starts with
// a dot or a quote would be a roff request.
func roffLine(s string) string {
	s = roffText(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
