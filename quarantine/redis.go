package quarantine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"mailguard/redisconn"
)

// The shared store keeps, under one prefix (one Cluster hash tag):
//
//	q:meta:ID   the entry as JSON; the entry exists exactly when this does
//	q:msg:ID    the message, a list of chunks of at most chunkSize bytes
//	q:index     sorted set of ids by holding time (microseconds), for List
//	q:journal   sorted set of events (JSON) by time, trimmed to journalKeep
//	q:lock:ID   a release's delivery lock, expiring after staleTmp
//
// Put streams the message into a temporary list (which expires if the
// writer dies), then one script renames it into place, writes the entry
// and indexes it, or refuses an id already taken: a reader never sees an
// entry without its whole message. Durability is Redis's own: with
// appendonly yes and appendfsync always an acknowledged write survives a
// crash of Redis (see docs/redis.md).
const chunkSize = 256 << 10

// Redis is the shared Store.
type Redis struct {
	rdb    redis.UniversalClient
	own    bool
	prefix string

	// doubtful holds the entries whose commit failed without saying
	// whether it ran (the connection broke after the script was sent), by
	// id. The client heard 451 and sends
	// the message again, so an entry that did land must go, or it is held
	// twice; settle removes it once Redis answers, if it is still exactly
	// what this process wrote (meta).
	mu       sync.Mutex
	doubtful map[string]doubtfulEntry
}

type doubtfulEntry struct {
	meta    []byte
	queueID string
}

// maxDoubtful bounds Redis.doubtful; past it a doubt is dropped for each
// new one (an entry that did land is then held twice, never lost).
const maxDoubtful = 10000

var (
	_ Store   = (*Redis)(nil)
	_ Locker  = (*Redis)(nil)
	_ Journal = (*Redis)(nil)
)

// OpenRedis returns the store in the Redis that url names (see redisconn);
// prefix "" means redisconn.Prefix. It does not connect: go-redis dials on
// first use and reconnects by itself.
func OpenRedis(url, prefix string) (*Redis, error) {
	c, err := redisconn.Open(url)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	if prefix == "" {
		prefix = redisconn.Prefix
	}
	return &Redis{rdb: c, own: true, prefix: prefix + "q:"}, nil
}

func (r *Redis) kMeta(id string) string { return r.prefix + "meta:" + id }
func (r *Redis) kMsg(id string) string  { return r.prefix + "msg:" + id }
func (r *Redis) kIndex() string         { return r.prefix + "index" }
func (r *Redis) kJournal() string       { return r.prefix + "journal" }
func (r *Redis) kLock(id string) string { return r.prefix + "lock:" + id }

// commitScript: KEYS meta, msg, tmp, index; ARGV json, score, id.
var commitScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RENAME', KEYS[3], KEYS[2])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('DEL', KEYS[2])
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
return 1`)

// updateScript: KEYS meta; ARGV json.
var updateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1`)

// deleteScript: KEYS meta, msg, index; ARGV id.
var deleteScript = redis.NewScript(`
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1`)

// undoScript: KEYS meta, msg, index; ARGV json, id. It removes the entry
// only if it is exactly the one written (ARGV json), so an id taken since
// by another writer, or an entry a reviewer changed, is left alone.
var undoScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1`)

// unlockScript: KEYS lock; ARGV token.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// Put implements Store.
func (r *Redis) Put(ctx context.Context, e Entry, msg io.Reader) (Entry, error) {
	id, err := putID(e)
	if err != nil {
		return Entry{}, err
	}
	// The first calls double as a check that Redis answers: briefly, so
	// a Redis that hangs costs the client QuickTimeout before its 451,
	// not go-redis's read timeout and retry. A Redis that hangs later in
	// Put costs each call those (a few seconds), well within an SMTP
	// client's patience (RFC 5321 4.5.3.2: minutes).
	qctx, cancel := context.WithTimeout(ctx, redisconn.QuickTimeout)
	defer cancel()
	if err := r.settle(qctx); err != nil {
		return Entry{}, err
	}
	if n, err := r.rdb.Exists(qctx, r.kMeta(id)).Result(); err != nil {
		return Entry{}, fmt.Errorf("quarantine: %w", err)
	} else if n > 0 {
		return Entry{}, fmt.Errorf("quarantine %s: %w", id, ErrExists)
	}
	e.ID = id
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	tok := make([]byte, 8)
	rand.Read(tok)
	tmp := r.prefix + "tmp:" + id + ":" + hex.EncodeToString(tok)
	sn := &sniffer{r: msg}
	if err := r.writeChunks(ctx, tmp, ctxReader{ctx, sn}); err != nil {
		r.dropTmp(ctx, tmp)
		return Entry{}, fmt.Errorf("quarantine: store message: %w", err)
	}
	sn.fill(&e)
	meta, err := json.Marshal(e)
	if err != nil {
		r.dropTmp(ctx, tmp)
		return Entry{}, fmt.Errorf("quarantine: %w", err)
	}
	ok, err := commitScript.Run(ctx, r.rdb, []string{r.kMeta(id), r.kMsg(id), tmp, r.kIndex()},
		meta, e.Time.UnixMicro(), id).Int()
	if err != nil {
		// Whether the script ran is unknown (Redis may have run it and
		// died before answering): the client hears 451 and sends the
		// message again, so an entry that landed is removed once Redis
		// answers. The tmp key expires by itself.
		r.doubt(id, e.QueueID, meta)
		r.dropTmp(ctx, tmp)
		return Entry{}, fmt.Errorf("quarantine: store entry: %w", err)
	}
	if ok == 0 {
		// Taken: by another writer, or by this very script when go-redis
		// sent it again after a broken connection.
		r.doubt(id, e.QueueID, meta)
		r.dropTmp(ctx, tmp)
		return Entry{}, fmt.Errorf("quarantine %s: %w", id, ErrExists)
	}
	Note(r, Event{Time: e.Time, ID: id, Kind: EventHeld, Score: e.Score})
	return e, nil
}

// dropTmp removes a temporary list Put gave up on, briefly: it expires by
// itself, so a Redis that hangs must not hold the client's reply for it.
func (r *Redis) dropTmp(ctx context.Context, tmp string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisconn.QuickTimeout)
	defer cancel()
	r.rdb.Del(ctx, tmp)
}

// doubt records an entry whose commit may have landed though Put fails.
func (r *Redis) doubt(id, queueID string, meta []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.doubtful == nil {
		r.doubtful = map[string]doubtfulEntry{}
	}
	if len(r.doubtful) >= maxDoubtful {
		for k := range r.doubtful {
			delete(r.doubtful, k)
			break
		}
	}
	r.doubtful[id] = doubtfulEntry{meta: meta, queueID: queueID}
}

// settle removes the doubtful entries that landed, each only if it is
// still exactly what Put wrote. Put and List call it first: the error of
// the first call Redis does not answer is theirs too, and the doubts left
// are tried again next time.
func (r *Redis) settle(ctx context.Context) error {
	r.mu.Lock()
	if len(r.doubtful) == 0 {
		r.mu.Unlock()
		return nil
	}
	pending := make(map[string]doubtfulEntry, len(r.doubtful))
	for k, v := range r.doubtful {
		pending[k] = v
	}
	r.mu.Unlock()
	for id, d := range pending {
		n, err := undoScript.Run(ctx, r.rdb, []string{r.kMeta(id), r.kMsg(id), r.kIndex()}, d.meta, id).Int()
		if err != nil {
			return fmt.Errorf("quarantine: %w", err)
		}
		r.mu.Lock()
		if bytes.Equal(r.doubtful[id].meta, d.meta) {
			delete(r.doubtful, id)
		}
		r.mu.Unlock()
		if n == 1 {
			slog.Default().InfoContext(ctx, "quarantine: removed an entry stored though its client was told 451 (it sends the message again)",
				"queue_id", d.queueID, "id", id)
		}
	}
	return nil
}

// writeChunks appends src to the list tmp, chunk by chunk, so a large
// message is never held whole; the list expires after staleTmp unless
// committed.
func (r *Redis) writeChunks(ctx context.Context, tmp string, src io.Reader) error {
	buf := make([]byte, chunkSize)
	first := true
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 || first {
			p := r.rdb.Pipeline()
			p.RPush(ctx, tmp, buf[:n])
			if first {
				p.Expire(ctx, tmp, staleTmp)
			}
			if _, perr := p.Exec(ctx); perr != nil {
				return perr
			}
			first = false
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Get implements Store. The message is read chunk by chunk as the caller
// reads.
func (r *Redis) Get(ctx context.Context, id string) (Entry, io.ReadCloser, error) {
	e, err := r.entry(ctx, id)
	if err != nil {
		return Entry{}, nil, err
	}
	n, err := r.rdb.LLen(ctx, r.kMsg(e.ID)).Result()
	if err != nil {
		return Entry{}, nil, fmt.Errorf("quarantine %s: %w", e.ID, err)
	}
	return e, &chunkReader{ctx: ctx, r: r, key: r.kMsg(e.ID), n: n}, nil
}

func (r *Redis) entry(ctx context.Context, id string) (Entry, error) {
	id = CanonicalID(id)
	if !ValidID(id) {
		return Entry{}, fmt.Errorf("quarantine %q: %w", id, ErrNotFound)
	}
	b, err := r.rdb.Get(ctx, r.kMeta(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Entry{}, fmt.Errorf("quarantine %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("quarantine %s: %w", id, err)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, fmt.Errorf("quarantine %s: entry: %w", id, err)
	}
	return e, nil
}

type chunkReader struct {
	ctx  context.Context
	r    *Redis
	key  string
	i, n int64
	cur  []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		if c.i >= c.n {
			return 0, io.EOF
		}
		b, err := c.r.rdb.LIndex(c.ctx, c.key, c.i).Bytes()
		if err != nil {
			return 0, fmt.Errorf("quarantine: read message: %w", err)
		}
		c.cur = b
		c.i++
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

func (c *chunkReader) Close() error { return nil }

// List implements Store: the index in time order, the entries fetched in
// one pipeline.
func (r *Redis) List(ctx context.Context) ([]Entry, error) {
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	ids, err := r.rdb.ZRange(ctx, r.kIndex(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	out := make([]Entry, 0, len(ids))
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 1000)]
		ids = ids[len(batch):]
		keys := make([]string, len(batch))
		for i, id := range batch {
			keys[i] = r.kMeta(id)
		}
		// One GET a key, pipelined: MGET would need one slot per call on
		// a Cluster, which the hash tag gives, but GETs keep it simple.
		p := r.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(keys))
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("quarantine: %w", err)
		}
		for _, c := range cmds {
			b, err := c.Bytes()
			if errors.Is(err, redis.Nil) {
				continue // deleted meanwhile
			}
			var e Entry
			if err != nil || json.Unmarshal(b, &e) != nil {
				continue
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// Update implements Store.
func (r *Redis) Update(ctx context.Context, e Entry) error {
	id := CanonicalID(e.ID)
	if !ValidID(id) {
		return fmt.Errorf("quarantine %q: %w", id, ErrNotFound)
	}
	e.ID = id
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("quarantine %s: %w", id, err)
	}
	ok, err := updateScript.Run(ctx, r.rdb, []string{r.kMeta(id)}, b).Int()
	if err != nil {
		return fmt.Errorf("quarantine %s: %w", id, err)
	}
	if ok == 0 {
		return fmt.Errorf("quarantine %s: %w", id, ErrNotFound)
	}
	return nil
}

// Delete implements Store.
func (r *Redis) Delete(ctx context.Context, id string) error {
	id = CanonicalID(id)
	if !ValidID(id) {
		return fmt.Errorf("quarantine %q: %w", id, ErrNotFound)
	}
	ok, err := deleteScript.Run(ctx, r.rdb, []string{r.kMeta(id), r.kMsg(id), r.kIndex()}, id).Int()
	if err != nil {
		return fmt.Errorf("quarantine %s: %w", id, err)
	}
	if ok == 0 {
		return fmt.Errorf("quarantine %s: %w", id, ErrNotFound)
	}
	return nil
}

// Lock implements Locker with a key that expires after staleTmp, so a lock
// left by a crash is taken over.
func (r *Redis) Lock(id string) (func(), error) {
	id = CanonicalID(id)
	if !ValidID(id) {
		return nil, fmt.Errorf("quarantine %q: %w", id, ErrNotFound)
	}
	tok := make([]byte, 8)
	rand.Read(tok)
	v := hex.EncodeToString(tok)
	ctx := context.Background()
	ok, err := r.rdb.SetNX(ctx, r.kLock(id), v, staleTmp).Result()
	if err != nil {
		return nil, fmt.Errorf("quarantine %s: lock: %w", id, err)
	}
	if !ok {
		return nil, fmt.Errorf("quarantine %s: %w", id, ErrLocked)
	}
	return func() { unlockScript.Run(context.Background(), r.rdb, []string{r.kLock(id)}, v) }, nil
}

// Record implements Journal; events older than journalKeep are dropped. It
// gives up after QuickTimeout: an event is a statistic, and Put records
// one between the commit and the client's 250.
func (r *Redis) Record(ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisconn.QuickTimeout)
	defer cancel()
	p := r.rdb.Pipeline()
	p.ZAdd(ctx, r.kJournal(), redis.Z{Score: float64(ev.Time.UnixMicro()), Member: b})
	p.ZRemRangeByScore(ctx, r.kJournal(), "-inf", fmt.Sprint(time.Now().Add(-journalKeep).UnixMicro()))
	_, err = p.Exec(ctx)
	return err
}

// Events implements Journal.
func (r *Redis) Events(ctx context.Context, since time.Time) ([]Event, error) {
	vs, err := r.rdb.ZRangeByScore(ctx, r.kJournal(), &redis.ZRangeBy{Min: fmt.Sprint(since.UnixMicro()), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("quarantine: journal: %w", err)
	}
	out := make([]Event, 0, len(vs))
	for _, v := range vs {
		var ev Event
		if json.Unmarshal([]byte(v), &ev) == nil {
			out = append(out, ev)
		}
	}
	return out, nil
}

// Close implements Store.
func (r *Redis) Close() error {
	if r.own {
		return r.rdb.Close()
	}
	return nil
}
