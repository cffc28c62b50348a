package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
)

// runSchema prints the JSON Schema of the config file.
func (a *app) runSchema(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: eventrouter schema

Prints a JSON Schema (draft 2020-12) of config.yaml, made from the types,
defaults and descriptions the loader itself uses, with the settings of
every plugin of this build and every form of a rule's on:. Editors that
read JSON Schema (VS Code with Red Hat's YAML extension, for one) complete
keys, show their descriptions and flag misspelt ones as you type. Point a
config at it with a first line such as:

  # yaml-language-server: $schema=schema/config.schema.json

It checks the shape of the file, not expressions: eventrouter check does
both.
`)
	}
	if code, ok := parseNoArgs(fs, args, stderr); !ok {
		return code
	}
	out, err := a.schema()
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter schema: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "eventrouter schema: %v\n", err)
		return 1
	}
	return 0
}

// schema returns the config's JSON Schema as indented JSON.
func (a *app) schema() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(a.registry().Schema()); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	return buf.Bytes(), nil
}
