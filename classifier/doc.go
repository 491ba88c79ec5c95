// Package classifier is the Bayesian spam classifier: it turns a raw message
// into the tokens a reader would notice (Tokenize), keeps their counts in a
// Store, and scores a message with Gary Robinson's per-token estimate
// combined by Fisher's chi-square method, as SpamBayes and bogofilter do.
// Filter puts the score into the chain under SpamAssassin's BAYES_* test
// names.
package classifier
