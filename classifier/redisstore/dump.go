package redisstore

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"mailguard/classifier"
)

var (
	_ classifier.Dumper = (*Store)(nil)
	_ classifier.Loader = (*Store)(nil)
)

// rankHapax is the score offset of tokens seen in more than one message.
const rankHapax = 1 << 20

// batch is how many records one pipeline carries in Dump and Load.
const batch = 1000

// Dump implements classifier.Dumper. It walks the token set with ZSCAN and
// the message records with SCAN, a page at a time: the one place this
// store scans, an operator's copy, never the mail path. It is not one
// consistent view: run it while no instance learns.
func (s *Store) Dump(ctx context.Context) (*classifier.Dump, error) {
	d := &classifier.Dump{}
	tot, err := s.Totals(ctx)
	if err != nil {
		return nil, err
	}
	d.Totals = tot
	var cursor uint64
	for {
		zs, next, err := s.rdb.ZScan(ctx, s.kLast, cursor, "", batch).Result()
		if err != nil {
			return nil, fmt.Errorf("token store: dump: %w", err)
		}
		// ZSCAN answers member, score pairs.
		fields := make([]string, 0, len(zs)/2)
		days := make([]uint16, 0, len(zs)/2)
		for i := 0; i+1 < len(zs); i += 2 {
			var score int64
			fmt.Sscan(zs[i+1], &score)
			fields = append(fields, zs[i])
			days = append(days, uint16(score%rankHapax))
		}
		if len(fields) > 0 {
			var sp, hm *redis.SliceCmd
			if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				sp = p.HMGet(ctx, s.kSpam, fields...)
				hm = p.HMGet(ctx, s.kHam, fields...)
				return nil
			}); err != nil {
				return nil, fmt.Errorf("token store: dump: %w", err)
			}
			for i, f := range fields {
				if len(f) != 8 {
					continue
				}
				d.Tokens = append(d.Tokens, classifier.TokenRecord{
					Hash:   binary.BigEndian.Uint64([]byte(f)),
					Counts: classifier.Counts{Spam: uint32(num(sp.Val()[i])), Ham: uint32(num(hm.Val()[i]))},
					Day:    days[i],
				})
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	today := s.now().UTC().Unix() / 86400
	// On a Cluster every key of the store is on the shard of its hash
	// tag: scan that one.
	var scanner redis.Cmdable = s.rdb
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, s.kLast)
		if err != nil {
			return nil, fmt.Errorf("token store: dump: %w", err)
		}
		scanner = node
	}
	cursor = 0
	for {
		keys, next, err := scanner.Scan(ctx, cursor, s.kMsg+"*", batch).Result()
		if err != nil {
			return nil, fmt.Errorf("token store: dump: %w", err)
		}
		if len(keys) > 0 {
			vals := make([]*redis.StringCmd, len(keys))
			ttls := make([]*redis.DurationCmd, len(keys))
			if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					vals[i] = p.Get(ctx, k)
					ttls[i] = p.PTTL(ctx, k)
				}
				return nil
			}); err != nil && !errors.Is(err, redis.Nil) {
				return nil, fmt.Errorf("token store: dump: %w", err)
			}
			for i, k := range keys {
				v, err := vals[i].Result()
				kb, herr := hex.DecodeString(strings.TrimPrefix(k, s.kMsg))
				if err != nil || herr != nil || len(kb) != 16 || len(v) < 1 {
					continue
				}
				r := classifier.MessageRecord{Key: [16]byte(kb), Spam: v[0] == 'S'}
				// The record was last learnt MessageTTL before it expires.
				age := s.ttl - ttls[i].Val()
				r.Day = uint16(today - int64(max(age, 0)/(24*time.Hour)))
				for b := []byte(v[1:]); len(b) >= 8; b = b[8:] {
					r.Hashes = append(r.Hashes, binary.BigEndian.Uint64(b))
				}
				d.Messages = append(d.Messages, r)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	return d, nil
}

// ErrNotEmpty is returned by Load into a store that holds something.
var ErrNotEmpty = errors.New("the destination token store is not empty")

// Load implements classifier.Loader, in pipelines of a thousand records.
// A message record keeps the rest of its life: MessageTTL from its day.
func (s *Store) Load(ctx context.Context, d *classifier.Dump, progress func(done, total int)) error {
	tot, err := s.Totals(ctx)
	if err != nil {
		return err
	}
	n, err := s.rdb.ZCard(ctx, s.kLast).Result()
	if err != nil {
		return fmt.Errorf("token store: load: %w", err)
	}
	if tot != (classifier.Totals{}) || n != 0 {
		return ErrNotEmpty
	}
	total := len(d.Tokens) + len(d.Messages)
	done := 0
	for i := 0; i < len(d.Tokens); i += batch {
		recs := d.Tokens[i:min(i+batch, len(d.Tokens))]
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, r := range recs {
				f := string(binary.BigEndian.AppendUint64(nil, r.Hash))
				if r.Counts.Spam > 0 {
					p.HSet(ctx, s.kSpam, f, r.Counts.Spam)
				}
				if r.Counts.Ham > 0 {
					p.HSet(ctx, s.kHam, f, r.Counts.Ham)
				}
				score := float64(r.Day)
				if r.Counts.Spam+r.Counts.Ham > 1 {
					score += rankHapax
				}
				p.ZAdd(ctx, s.kLast, redis.Z{Score: score, Member: f})
			}
			return nil
		}); err != nil {
			return fmt.Errorf("token store: load: %w", err)
		}
		done += len(recs)
		if progress != nil {
			progress(done, total)
		}
	}
	today := s.now().UTC().Unix() / 86400
	for i := 0; i < len(d.Messages); i += batch {
		recs := d.Messages[i:min(i+batch, len(d.Messages))]
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, r := range recs {
				v := make([]byte, 1, 1+8*len(r.Hashes))
				v[0] = 'H'
				if r.Spam {
					v[0] = 'S'
				}
				for _, h := range r.Hashes {
					v = binary.BigEndian.AppendUint64(v, h)
				}
				life := s.ttl - time.Duration(today-int64(r.Day))*24*time.Hour
				p.Set(ctx, s.msgKey(r.Key), v, max(life, 24*time.Hour))
			}
			return nil
		}); err != nil {
			return fmt.Errorf("token store: load: %w", err)
		}
		done += len(recs)
		if progress != nil {
			progress(done, total)
		}
	}
	// The totals last: a store with totals is a store in use.
	if err := s.rdb.HSet(ctx, s.kTot, "spam", d.Totals.Spam, "ham", d.Totals.Ham).Err(); err != nil {
		return fmt.Errorf("token store: load: %w", err)
	}
	return nil
}
