package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
	"mailguard/mailfiles"
)

func main() {
	files, _ := mailfiles.List([]string{"/tmp/split/test/spam", "/tmp/split/test/ham"})
	var raws [][]byte
	for _, f := range files {
		mailfiles.Read(f.Path, func(n string, r []byte) error { raws = append(raws, r); return nil })
	}
	for _, w := range []int{1, 2} {
		t0 := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < w; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := i; j < len(raws); j += w {
					classifier.Tokenize(raws[j])
				}
			}()
		}
		wg.Wait()
		fmt.Println("tokenize workers", w, time.Since(t0))
	}
	st, _ := boltstore.Open(boltstore.Config{Path: "/tmp/mgdata/tokens.db", ReadOnly: true})
	var toks [][]string
	for _, r := range raws {
		toks = append(toks, classifier.Tokenize(r))
	}
	for _, w := range []int{1, 2} {
		t0 := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < w; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := i; j < len(raws); j += w {
					st.Counts(context.Background(), toks[j])
				}
			}()
		}
		wg.Wait()
		fmt.Println("counts workers", w, time.Since(t0))
	}
}
