package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"mailguard/classifier"
	"mailguard/classifier/boltstore"
	"mailguard/mailfiles"
)

func main() {
	var docs []classifier.Doc
	for _, c := range []string{"spam", "ham"} {
		files, _ := mailfiles.List([]string{"/tmp/split/train/" + c})
		for _, f := range files {
			mailfiles.Read(f.Path, func(n string, r []byte) error {
				docs = append(docs, classifier.Doc{Digest: classifier.Digest(r), Spam: c == "spam", Tokens: classifier.Tokenize(r)})
				return nil
			})
		}
	}
	pf, _ := os.Create("/tmp/learn.prof")
	pprof.StartCPUProfile(pf)
	for _, bs := range []int{500, 1000, 2000} {
		dir, _ := os.MkdirTemp("", "lb")
		p := filepath.Join(dir, "t.db")
		st, _ := boltstore.Open(boltstore.Config{Path: p})
		t0 := time.Now()
		var r0, r1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		for i := 0; i < len(docs); i += bs {
			st.Learn(context.Background(), docs[i:min(i+bs, len(docs))]...)
		}
		el := time.Since(t0)
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		cpu := time.Duration(r1.Utime.Nano()+r1.Stime.Nano()-r0.Utime.Nano()-r0.Stime.Nano())
		fmt.Printf("cpu %.0f msgs/cpu-s  ", float64(len(docs))/cpu.Seconds())
		st.Close()
		fi, _ := os.Stat(p)
		fmt.Printf("batch %d: %.0f msgs/s, file %.1f MB\n", bs, float64(len(docs))/el.Seconds(), float64(fi.Size())/1e6)
		os.RemoveAll(dir)
	}
	pprof.StopCPUProfile()
}
