package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
	"mailguard/mailfiles"
)

func init() {
	register(command{name: "classify", summary: "prints each message's class (spam, ham, unsure) and spam probability; changes nothing", run: runClassify})
}

// lookupsPerMessage is about how many distinct tokens a message has.
const lookupsPerMessage = 250

// readStore returns the store to score n files from: a snapshot of the
// embedded store's token table when the lookups would outnumber the table
// (reading it whole costs about a tenth of a lookup a token), else the
// store itself. The snapshot loads while the first messages are read,
// tokenized and scored from the store.
func readStore(ctx context.Context, st classifier.Store, n int, stderr io.Writer) classifier.Store {
	bs, ok := st.(*boltstore.Store)
	if !ok {
		return st
	}
	tokens, err := bs.Tokens()
	if err != nil || n*lookupsPerMessage*10 < tokens {
		return st
	}
	p := &pendingStore{Store: st, ready: make(chan struct{}), snap: st}
	go func() {
		defer close(p.ready)
		snap, err := bs.Snapshot(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "mailguard classify: %v; reading the store directly\n", err)
			return
		}
		p.snap = snap
	}()
	return p
}

// pendingStore answers Counts from snap once it is loaded and from the
// store until then: waiting would leave the other cores idle while one
// reads the table. Both are read-only views of the same counts.
type pendingStore struct {
	classifier.Store
	ready chan struct{}
	snap  classifier.Store
}

func (p *pendingStore) Counts(ctx context.Context, tokens []string) ([]classifier.Counts, classifier.Totals, error) {
	select {
	case <-p.ready:
		return p.snap.Counts(ctx, tokens)
	default:
		return p.Store.Counts(ctx, tokens)
	}
}

// classified is one message's line of -json output.
type classified struct {
	File    string  `json:"file"`
	Label   string  `json:"label"`
	Prob    float64 `json:"prob"`
	LogOdds float64 `json:"log_odds"`
	// Band is the BAYES_* test the gateway would score, read off
	// Calibrated, the calibrated probability; "" while inactive.
	Band       string  `json:"band"`
	Calibrated float64 `json:"calibrated_prob"`
	// Active is false while too few messages are learnt for an opinion.
	Active bool `json:"active"`
	// Evidence counts the clues by side; Tokens are the clues themselves,
	// most extreme first.
	Evidence evidence `json:"evidence"`
	Tokens   []clue   `json:"tokens"`
	Error    string   `json:"error,omitempty"`
}

// evidence sums up the clues: how many point each way, how many of
// those are word pairs, and how many separate facts they hold
// (classifier.Facts: too few keep the band at BAYES_50 or under).
type evidence struct {
	Spam      int `json:"spam_clues"`
	Ham       int `json:"ham_clues"`
	SpamPairs int `json:"spam_pairs"`
	HamPairs  int `json:"ham_pairs"`
	Facts     int `json:"facts"`
}

func countEvidence(cl []classifier.Clue) evidence {
	e := evidence{Facts: classifier.Facts(cl)}
	for _, c := range cl {
		pair := classifier.IsPair(c.Token)
		switch {
		case c.Prob > 0.5 && pair:
			e.Spam++
			e.SpamPairs++
		case c.Prob > 0.5:
			e.Spam++
		case pair:
			e.Ham++
			e.HamPairs++
		default:
			e.Ham++
		}
	}
	return e
}

type clue struct {
	Token string  `json:"token"`
	Prob  float64 `json:"prob"`
}

func runClassify(args []string, stdout, stderr io.Writer) int {
	fs, path := commandFlags("classify", "mailguard classify [-config FILE] [-json] FILE...", "Prints a line a message: FILE<TAB>spam|ham|unsure<TAB>PROBABILITY, the probability\nthat it is spam at full precision. Where a float64 cannot hold the probability apart\nfrom 1, 0 or 0.5, it is moved by less than 1e-13 so that sorting on it ranks messages\nas the exact log-odds do (-json prints those as log_odds too). Within 0.00025 of 0.5,\nwhere Fisher's combination cannot tell, ties are broken by weighing the spam evidence\nagainst the ham evidence.\nA FILE may be a folder (searched recursively) or an mbox file (its messages are\nFILE#1, FILE#2, ...). The token store is only read.", stderr)
	asJSON := fs.Bool("json", false, "print a JSON object a message: label, probability and log-odds, the BAYES_* band and the calibrated probability it is read off, the clues counted by side and the tokens that decided with their spam probabilities")
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "mailguard classify: no FILE given")
		fs.Usage()
		return exitUsage
	}
	cfg, files, st, code := openForMessages("classify", *path, fs.Args(), true, stderr)
	if code != exitOK {
		return code
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	debug.SetGCPercent(400) // a batch job: fewer collections, more memory
	ccfg := classifierConfig(cfg)
	c := classifier.New(ccfg, readStore(ctx, st, len(files), stderr))
	if tot, err := st.Totals(ctx); err == nil && (tot.Spam < uint64(ccfg.MinLearned) || tot.Ham < uint64(ccfg.MinLearned)) {
		fmt.Fprintf(stderr, "mailguard classify: only %d spam and %d ham learnt, the classifier needs %d of each: every message is unsure\n", tot.Spam, tot.Ham, ccfg.MinLearned)
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	enc := json.NewEncoder(out)
	failed := 0
	type scored struct {
		res classifier.Result
		err error
	}
	err := mailfiles.Process(ctx, mailfiles.Config{}, files,
		func(name string, raw []byte) scored {
			res, err := c.Classify(ctx, classifier.Tokenize(head(cfg, raw)))
			return scored{res, err}
		},
		func(name string, s scored, err error) error {
			if err == nil {
				err = s.err
			}
			if err != nil {
				failed++
				fmt.Fprintf(stderr, "mailguard classify: %s: %v\n", name, err)
				if *asJSON {
					return enc.Encode(classified{File: name, Label: classifier.Unsure.String(), Prob: 0.5, Calibrated: 0.5, Tokens: []clue{}, Error: err.Error()})
				}
				return nil
			}
			if *asJSON {
				cl := make([]clue, len(s.res.Clues))
				for i, c := range s.res.Clues {
					cl[i] = clue{c.Token, c.Prob}
				}
				band := ""
				if s.res.Active {
					band = classifier.TestName(s.res.Calibrated)
				}
				return enc.Encode(classified{File: name, Label: s.res.Label.String(), Prob: s.res.Prob, LogOdds: s.res.LogOdds,
					Band: band, Calibrated: s.res.Calibrated, Active: s.res.Active, Evidence: countEvidence(s.res.Clues), Tokens: cl})
			}
			_, err = fmt.Fprintf(out, "%s\t%s\t%s\n", name, s.res.Label, strconv.FormatFloat(s.res.Prob, 'g', -1, 64))
			return err
		})
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailguard classify: %v\n", err)
		return exitFailed
	}
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}
