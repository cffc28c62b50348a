package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/eventrouter/eventrouter/internal/sdnotify"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/cluster"
	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// runDaemon runs the router until SIGTERM or SIGINT.
func (a *app) runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "config.yaml", "config file")
	listen := fs.String("listen", "", "listen address, overriding server.listen (e.g. :3000 or 127.0.0.1:0)")
	adminListen := fs.String("admin-listen", "", "admin listen address (metrics, health), overriding admin.listen; an explicit empty value disables it")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: eventrouter [run] [--config FILE] [--listen ADDR] [--admin-listen ADDR]

Runs the daemon. The config is validated first; an invalid one exits 1 with
every problem listed. SIGHUP reloads the config (an invalid one is refused
and the running one kept); SIGTERM and SIGINT stop gracefully and exit 0.
Under systemd (NOTIFY_SOCKET set) the daemon speaks the notify protocol.

The admin listener (admin.listen, 127.0.0.1:9090 by default) serves
/metrics, /healthz, /readyz and POST /-/reload.

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
	adminSet := false
	fs.Visit(func(f *flag.Flag) { adminSet = adminSet || f.Name == "admin-listen" })

	reg := a.registry()
	rs, err := rules.Load(*configPath, reg, rules.LoadOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter: config %s is invalid:\n%v\n", *configPath, err)
		return 1
	}
	applyRuntime(rs.Config.Runtime)
	level := zap.NewAtomicLevel()
	log, err := newLogger(rs.Config.Log, level, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter: %v\n", err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	if rs.Config.Cluster.Enabled() {
		cluster.RouteRedisLogs(log)
	}

	addr := rs.Config.Server.Listen
	if *listen != "" {
		addr = *listen
	}
	adminAddr := rs.Config.Admin.Listen
	if adminSet {
		adminAddr = *adminListen
	}
	if adminAddr != "" && sameFixedAddr(adminAddr, addr) {
		log.Error("the admin listener must not share the public address", zap.String("addr", addr))
		return 1
	}

	d := &daemon{
		path:     *configPath,
		reg:      reg,
		log:      log,
		level:    level,
		format:   rs.Config.Log.Format,
		notify:   &sdnotify.Notifier{},
		requests: make(chan chan error),
		stopped:  make(chan struct{}),
	}
	r, err := router.New(rs, router.Options{Logger: log, Hash: router.ConfigHash(rs.Config), Reload: d.requestReload})
	if err != nil {
		log.Error("start", zap.Error(err))
		return 1
	}
	d.r = r
	ln, err := openListener(listenerSetting{name: "public", flag: "listen", key: "server.listen"}, addr)
	if err != nil {
		log.Error("listen", zap.Error(err))
		return 1
	}
	var aln net.Listener
	if adminAddr != "" {
		if aln, err = openListener(listenerSetting{name: "admin", flag: "admin-listen", key: "admin.listen"}, adminAddr); err != nil {
			_ = ln.Close()
			log.Error("admin listen", zap.Error(err))
			return 1
		}
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// A buffer of one coalesces a storm of HUPs: signals that arrive while
	// a reload runs become one more reload, which reads the latest file.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	served := make(chan error, 2)
	go func() { served <- r.Serve(ln) }()
	if aln != nil {
		go func() { served <- r.ServeAdmin(aln) }()
		log.Info("admin listening", zap.String("addr", aln.Addr().String()), zap.Strings("endpoints", []string{"/metrics", "/healthz", "/readyz", "POST /-/reload"}))
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.String("config", *configPath),
		zap.Int("rules", len(rs.Rules)), zap.String("hash", r.Runtime().Hash))
	d.sdNotify(d.notify.Ready)

	wctx, cancelWatchdog := context.WithCancel(context.Background())
	defer cancelWatchdog()
	if interval, err := sdnotify.WatchdogInterval(); err != nil {
		log.Warn("systemd watchdog", zap.Error(err))
	} else if interval > 0 {
		log.Info("systemd watchdog enabled", zap.Duration("ping_every", interval))
		go d.notify.Watchdog(wctx, interval, func(err error) { log.Warn("systemd watchdog", zap.Error(err)) })
	}

	for {
		select {
		case err := <-served:
			close(d.stopped)
			log.Error("serve", zap.Error(err))
			return 1
		case <-hup:
			_ = d.reload("SIGHUP")
		case reply := <-d.requests:
			reply <- d.reload("POST /-/reload")
		case <-ctx.Done():
			stop() // a second SIGTERM or SIGINT now kills at once
			close(d.stopped)
			timeout := r.Runtime().Rules.Config.Server.ShutdownTimeout
			log.Info("stopping", zap.Duration("timeout", timeout))
			d.sdNotify(d.notify.Stopping)
			sctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := r.Shutdown(sctx)
			cancel()
			if err != nil {
				log.Warn("shutdown incomplete", zap.Error(err))
			}
			log.Info("stopped")
			return 0
		}
	}
}

// daemon is the state of the reload loop in runDaemon.
type daemon struct {
	path     string
	reg      *rules.Registry
	log      *zap.Logger
	level    zap.AtomicLevel
	format   string // log.format is fixed at start
	notify   *sdnotify.Notifier
	r        *router.Router
	requests chan chan error // POST /-/reload, answered by the loop
	stopped  chan struct{}   // closed when the loop stops taking requests
}

// reload is one pass of the reload loop: it re-reads the file and the
// environment, and swaps in the result unless it is invalid or unchanged.
// systemd sees RELOADING=1 (with MONOTONIC_USEC) before and READY=1 after,
// whatever the outcome.
func (d *daemon) reload(trigger string) error {
	d.log.Info("reloading", zap.String("trigger", trigger), zap.String("config", d.path))
	d.sdNotify(d.notify.Reloading)
	defer d.sdNotify(d.notify.Ready)
	changed, err := d.r.ReloadFrom(func() (*rules.Ruleset, error) {
		return rules.Load(d.path, d.reg, rules.LoadOptions{})
	})
	if err != nil || !changed {
		return err
	}
	applyRuntime(d.r.Runtime().Rules.Config.Runtime)
	c := d.r.Runtime().Rules.Config.Log
	if l, err := zapcore.ParseLevel(c.Level); err == nil && l != d.level.Level() {
		d.log.Info("log level changed", zap.Stringer("from", d.level.Level()), zap.Stringer("to", l))
		d.level.SetLevel(l)
	}
	if c.Format != d.format {
		d.log.Warn("log.format changed; restart to apply, the running value is kept", zap.String("running", d.format), zap.String("config", c.Format))
	}
	return nil
}

// requestReload asks the reload loop for a reload and waits for its result;
// the admin listener's POST /-/reload calls it.
func (d *daemon) requestReload(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case d.requests <- reply:
	case <-d.stopped:
		return errors.New("the daemon is stopping")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listenerSetting names a listener and what sets its address, so that a
// listen error can say what to change.
type listenerSetting struct {
	name string // "public", "admin"
	flag string // the run flag, without dashes
	key  string // the config key
}

// openListener opens the listener s on addr. Its error names the flag, the
// config key and the environment variable that choose another address.
func openListener(s listenerSetting, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	problem := "cannot listen on " + addr
	if errors.Is(err, syscall.EADDRINUSE) {
		problem = "address " + addr + " is already in use"
	}
	env := rules.EnvPrefix + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
	return nil, fmt.Errorf("%s listener: %s; choose another with --%s, the config key %s or %s: %w",
		s.name, problem, s.flag, s.key, env, err)
}

// sameFixedAddr reports whether two listen addresses name the same fixed
// port (":0" picks a free port, so it never clashes).
func sameFixedAddr(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa == "0" || pa != pb {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

// sdNotify sends one notify message, logging a failure.
func (d *daemon) sdNotify(send func() error) {
	if err := send(); err != nil {
		d.log.Warn("systemd notify", zap.Error(err))
	}
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

// applyRuntime applies the config's garbage-collector settings to the
// process.
func applyRuntime(c rules.RuntimeConfig) {
	debug.SetGCPercent(c.GCPercent)
	if c.MemoryLimit > 0 {
		debug.SetMemoryLimit(int64(c.MemoryLimit))
	} else {
		debug.SetMemoryLimit(math.MaxInt64)
	}
}
