// Package milter is the gateway's milter front end: Postfix or Sendmail
// call it during their own SMTP transactions, and it drives the same
// filters.Chain as the SMTP proxy, with no check of its own.
//
// Each milter event becomes the call the proxy makes for the matching SMTP
// event: connect -> Chain.Connect, HELO -> Chain.Helo, MAIL -> Chain.Mail,
// RCPT -> Chain.Rcpt (a refusal is a custom reply for that recipient alone,
// with the same text and queue id as in proxy mode), the header fields and
// body chunks are spooled as the proxy spools DATA (in memory up to a limit,
// then in a file), and end of message -> Chain.Data. The outcome is carried
// out with milter actions: forged verdict fields are deleted (ChangeHeader
// with an empty value, at their per-name index), the chain's fields are
// inserted at the top, a refusal is a custom reply, and a quarantined
// message is either kept in the gateway's quarantine and discarded at the
// MTA, or handed to the MTA's own quarantine (Postfix's hold queue).
//
// The protocol is the milter protocol version 6 of Sendmail's libmilter
// (github.com/d--j/go-milter), falling back to what older MTAs offer.
package milter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	milterlib "github.com/d--j/go-milter"

	"mailguard/filters"
)

// QuarantineAction is what a quarantined message becomes at the MTA.
type QuarantineAction string

const (
	// QuarantineDiscard keeps the message in the gateway's quarantine and
	// tells the MTA to discard it (the sender hears 250).
	QuarantineDiscard QuarantineAction = "discard"
	// QuarantineHold asks the MTA to keep the message in its own
	// quarantine (Postfix: the hold queue); the gateway keeps no copy.
	QuarantineHold QuarantineAction = "hold"
)

// Config configures a Server. Zero values take the defaults documented on
// each field.
type Config struct {
	// Chain returns the chain to judge a new connection with; it is asked
	// again at each MAIL FROM, so a reload applies from the next message.
	Chain func() *filters.Chain
	// Holder keeps quarantined messages (QuarantineDiscard); without one a
	// Quarantine outcome is answered 451 4.3.0, because nothing may be
	// dropped that is not stored.
	Holder filters.Holder
	// QuarantineAction is QuarantineDiscard (default) or QuarantineHold.
	QuarantineAction QuarantineAction
	// RelayByMTA leaves the relay decision to the MTA (filters.ClientConn
	// RelayByMTA); false applies domains and relay_networks as the proxy
	// does.
	RelayByMTA bool
	// SpoolDir holds messages too big for memory while they are judged
	// (default the system's temporary directory).
	SpoolDir string
	// SpoolMemory is how much of a message is held in memory before it
	// spills to a file in SpoolDir (default 256 KiB).
	SpoolMemory int
	// MaxMessageBytes bounds what is spooled (default 26214400); a larger
	// message is refused 552 5.3.4 at its end.
	MaxMessageBytes int64
	// DataTimeout bounds the message checks and the quarantine write at
	// the end of a message (default 10 minutes).
	DataTimeout time.Duration
	// ReadTimeout is how long the MTA may stay silent on a milter
	// connection (default 10 minutes: longer than an SMTP client may idle
	// at the MTA, RFC 5321 section 4.5.3.2.7, plus the MTA's own milter
	// timeouts).
	ReadTimeout time.Duration
	// Log receives one line per decision (default slog.Default()).
	Log *slog.Logger
}

// Defaults of the milter front end.
const (
	DefaultMaxMessageBytes = 26214400
	DefaultDataTimeout     = 10 * time.Minute
	DefaultReadTimeout     = 10 * time.Minute
	defaultSpoolMemory     = 256 << 10
)

// Server is the milter front end. Serve runs it; Shutdown stops it.
type Server struct {
	cfg    Config
	lib    *milterlib.Server
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // sessions still cleaning up
	// open counts the sessions between their start and their Cleanup.
	open atomic.Int64
}

// The macros the gateway asks the MTA for, by stage (MTAs that cannot be
// asked send what their configuration lists: see docs/milter.md).
var macroRequests = []struct {
	stage  milterlib.MacroStage
	macros []milterlib.MacroName
}{
	{milterlib.StageConnect, []milterlib.MacroName{milterlib.MacroMTAFQDN, milterlib.MacroDaemonName, milterlib.MacroClientName}},
	{milterlib.StageHelo, []milterlib.MacroName{milterlib.MacroTlsVersion}},
	{milterlib.StageMail, []milterlib.MacroName{milterlib.MacroQueueId, milterlib.MacroAuthAuthen, milterlib.MacroTlsVersion}},
	{milterlib.StageRcpt, []milterlib.MacroName{milterlib.MacroQueueId}},
	{milterlib.StageEOM, []milterlib.MacroName{milterlib.MacroQueueId}},
}

// logOnce sends the library's warnings (a peer that broke the protocol) to
// the structured log of the first Server; the library keeps them in a
// package variable.
var logOnce sync.Once

// actions are the message changes the gateway may ask for.
const actions = milterlib.OptAddHeader | milterlib.OptChangeHeader | milterlib.OptQuarantine

// New checks the configuration and prepares a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Chain == nil {
		return nil, errors.New("milter: no filter chain")
	}
	switch cfg.QuarantineAction {
	case "":
		cfg.QuarantineAction = QuarantineDiscard
	case QuarantineDiscard, QuarantineHold:
	default:
		return nil, fmt.Errorf("milter: quarantine action %q is neither discard nor hold", cfg.QuarantineAction)
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = DefaultDataTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.SpoolMemory <= 0 {
		cfg.SpoolMemory = defaultSpoolMemory
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.SpoolDir != "" {
		if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
			return nil, fmt.Errorf("milter: spool directory: %w", err)
		}
	}
	logOnce.Do(func() {
		log := cfg.Log
		milterlib.LogWarning = func(format string, v ...any) {
			log.Warn("milter protocol: " + fmt.Sprintf(format, v...))
		}
	})
	s := &Server{cfg: cfg}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	opts := []milterlib.Option{
		milterlib.WithDynamicMilter(func(version uint32, _ milterlib.OptAction, protocol milterlib.OptProtocol, _ milterlib.DataSize) milterlib.Milter {
			return s.newSession(protocol&milterlib.OptHeaderLeadingSpace != 0)
		}),
		milterlib.WithActions(actions),
		milterlib.WithReadTimeout(cfg.ReadTimeout),
		milterlib.WithNegotiationCallback(negotiate),
	}
	for _, r := range macroRequests {
		opts = append(opts, milterlib.WithMacroRequest(r.stage, r.macros))
	}
	s.lib = milterlib.NewServer(opts...)
	return s, nil
}

// negotiate accepts any MTA from protocol version 2 on: the gateway takes
// the actions the MTA offers of those it wants (an MTA without header
// changes still gets every refusal), asks for header values with their
// leading space (so the spooled message is the one that arrived, for DKIM),
// declines the DATA and unknown-command events it has no use for, and
// answers only the events where it may refuse (MAIL, RCPT, end of
// message): a connect or HELO refusal waits for RCPT TO anyway, and a
// reply to every header field and body chunk would cost a round trip each.
func negotiate(mtaVersion, _ uint32, mtaActions, want milterlib.OptAction, mtaProtocol, _ milterlib.OptProtocol, offered milterlib.DataSize) (uint32, milterlib.OptAction, milterlib.OptProtocol, milterlib.DataSize, error) {
	if mtaVersion < 2 {
		return 0, 0, 0, 0, fmt.Errorf("milter: MTA speaks protocol version %d; 2 or later is needed", mtaVersion)
	}
	version := min(mtaVersion, milterlib.MaxServerProtocolVersion)
	acts := want & mtaActions
	if mtaActions&milterlib.OptSetMacros != 0 {
		acts |= milterlib.OptSetMacros
	}
	proto := mtaProtocol & (milterlib.OptHeaderLeadingSpace | milterlib.OptNoUnknown | milterlib.OptNoData |
		milterlib.OptNoConnReply | milterlib.OptNoHeloReply | milterlib.OptNoHeaderReply | milterlib.OptNoEOHReply |
		milterlib.OptNoBodyReply | milterlib.OptNoDataReply | milterlib.OptNoUnknownReply)
	return version, acts, proto, offered, nil
}

// Listen opens the listener milter.listen names: "host:port", or
// "unix:/path" with the socket's permission set to mode (a stale socket
// left by a previous run is replaced; any other file there is an error).
func Listen(addr string, mode os.FileMode) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		return net.Listen("tcp", addr)
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("milter: socket path %q is not absolute", path)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("milter: %s exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("milter: %s is in use by another process", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("milter: stale socket: %w", err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("milter: socket mode: %w", err)
	}
	return l, nil
}

// Serve answers the MTA's milter connections on l until Shutdown. It
// returns nil after Shutdown, or the listener's error.
func (s *Server) Serve(l net.Listener) error {
	err := s.lib.Serve(framedListener{l})
	if err == nil || errors.Is(err, milterlib.ErrServerClosed) || s.ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("milter: %w", err)
}

// Shutdown stops accepting, lets the MTA finish its connections until ctx
// is done, then closes what is left. It returns ctx's error when it had to
// cut connections short.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.lib.Shutdown(ctx)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		s.cfg.Log.Warn("milter listener close", "err", err)
		err = nil
	}
	// Work still running on behalf of a cut connection ends now.
	s.cancel()
	s.wg.Wait()
	return err
}
