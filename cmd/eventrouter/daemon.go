package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// runDaemon runs the router until SIGTERM or SIGINT.
func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "config.yaml", "config file")
	listen := fs.String("listen", "", "listen address, overriding server.listen (e.g. :3000 or 127.0.0.1:0)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: eventrouter [run] [--config FILE] [--listen ADDR]

Runs the daemon. The config is validated first; an invalid one exits 1 with
every problem listed. SIGHUP reloads the config; SIGTERM and SIGINT stop
gracefully.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}

	reg := builtin.Registry()
	rs, err := rules.Load(*configPath, reg, rules.LoadOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter: config %s is invalid:\n%v\n", *configPath, err)
		return 1
	}
	level := zap.NewAtomicLevel()
	log, err := newLogger(rs.Config.Log, level, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter: %v\n", err)
		return 1
	}
	defer func() { _ = log.Sync() }()

	addr := rs.Config.Server.Listen
	if *listen != "" {
		addr = *listen
	}
	r, err := router.New(rs, router.Options{Logger: log, Hash: fileHash(*configPath)})
	if err != nil {
		log.Error("start", zap.Error(err))
		return 1
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("listen", zap.String("addr", addr), zap.Error(err))
		return 1
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.String("config", *configPath), zap.Int("rules", len(rs.Rules)))

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	served := make(chan error, 1)
	go func() { served <- r.Serve(ln) }()
	for {
		select {
		case err := <-served:
			if err != nil {
				log.Error("serve", zap.Error(err))
				return 1
			}
			return 0
		case <-hup:
			reload(r, reg, *configPath, level, log)
		case <-ctx.Done():
			log.Info("stopping", zap.Duration("timeout", rs.Config.Server.ShutdownTimeout))
			sctx, cancel := context.WithTimeout(context.Background(), r.Runtime().Rules.Config.Server.ShutdownTimeout)
			err := r.Shutdown(sctx)
			cancel()
			if err != nil {
				log.Warn("shutdown incomplete", zap.Error(err))
			}
			<-served
			log.Info("stopped")
			return 0
		}
	}
}

// reload re-reads the config and swaps it in; on any problem the running
// rules stay.
func reload(r *router.Router, reg *rules.Registry, path string, level zap.AtomicLevel, log *zap.Logger) {
	rs, err := rules.Load(path, reg, rules.LoadOptions{})
	if err != nil {
		log.Error("reload failed, keeping the running config", zap.String("config", path), zap.Error(err))
		return
	}
	if err := r.Reload(rs, fileHash(path)); err != nil {
		log.Error("reload failed, keeping the running config", zap.String("config", path), zap.Error(err))
		return
	}
	if l, err := zapcore.ParseLevel(rs.Config.Log.Level); err == nil {
		level.SetLevel(l)
	}
	log.Info("config reloaded", zap.String("config", path), zap.Int("rules", len(rs.Rules)))
}

// newLogger builds the zap logger the config asks for.
func newLogger(c rules.LogConfig, level zap.AtomicLevel, out io.Writer) (*zap.Logger, error) {
	l, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	level.SetLevel(l)
	var enc zapcore.Encoder
	if c.Format == "json" {
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	} else {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("2006-01-02T15:04:05.000Z0700")
		enc = zapcore.NewConsoleEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(out)), level)
	return zap.New(core), nil
}

// fileHash is a short sha256 of the config file, published on reload.
func fileHash(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
