// Command mkpackage builds eventrouter's .deb and .rpm from a built binary;
// ./package.sh runs it. Usage:
//
//	go run ./internal/packaging/mkpackage -version 1.2.0 -binary dist/build/eventrouter -out dist
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/eventrouter/eventrouter/internal/packaging"
)

func main() {
	version := flag.String("version", "", "package version (1.2.0, 0.0.0~git20261201.3bcb2b2)")
	binary := flag.String("binary", "", "the eventrouter binary to ship, built for linux/amd64")
	out := flag.String("out", "dist", "directory to write the packages into")
	root := flag.String("root", ".", "the repository's root")
	flag.Parse()
	if *version == "" || *binary == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	mtime := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mkpackage: SOURCE_DATE_EPOCH: %v\n", err)
			os.Exit(2)
		}
		mtime = time.Unix(sec, 0).UTC()
	}
	stage, err := os.MkdirTemp("", "eventrouter-package-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkpackage: %v\n", err)
		os.Exit(1)
	}
	defer os.RemoveAll(stage)
	bin, err := filepath.Abs(*binary)
	if err == nil {
		var paths []string
		paths, err = packaging.Build(packaging.Spec{Version: *version, Root: *root, Binary: bin, Stage: stage, MTime: mtime}, *out)
		for _, p := range paths {
			fmt.Println(p)
		}
	}
	if err != nil {
		os.RemoveAll(stage)
		fmt.Fprintf(os.Stderr, "mkpackage: %v\n", err)
		os.Exit(1)
	}
}
