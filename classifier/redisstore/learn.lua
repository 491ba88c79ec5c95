-- Learns a batch of messages atomically; returns how many changed counts.
-- KEYS: spam, ham, totals, lastuse, then msg:DIGEST per message.
-- ARGV: day, max tokens, message TTL (s), then per message its class
-- ("S" or "H") and its distinct token hashes, 8 bytes each.
local day = tonumber(ARGV[1])
local maxTok = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local kSpam, kHam, kTot, kLast = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

-- rank files token h, whose counts are now a (in the class just changed)
-- and the other class's, in the pruning order; a token at zero goes.
-- Tokens in two messages or more score 2^20 more (rankHapax in dump.go).
local function rank(h, a, other)
  local b = tonumber(redis.call('HGET', other, h) or '0')
  if a + b <= 0 then
    redis.call('ZREM', kLast, h)
  elseif a + b == 1 then
    redis.call('ZADD', kLast, day, h)
  else
    redis.call('ZADD', kLast, day + 1048576, h)
  end
end

local changed = 0
for i = 1, #KEYS - 4 do
  local key = KEYS[4 + i]
  local cls = ARGV[2 + 2 * i]
  local toks = ARGV[3 + 2 * i]
  local old = redis.call('GET', key)
  if old and string.sub(old, 1, 1) == cls then
    redis.call('EXPIRE', key, ttl)
  else
    local add, addTot, sub, subTot = kSpam, 'spam', kHam, 'ham'
    if cls == 'H' then
      add, addTot, sub, subTot = kHam, 'ham', kSpam, 'spam'
    end
    if old then
      for j = 2, #old - 7, 8 do
        local h = string.sub(old, j, j + 7)
        local a = redis.call('HINCRBY', sub, h, -1)
        if a <= 0 then
          redis.call('HDEL', sub, h)
          a = 0
        end
        rank(h, a, add)
      end
      if redis.call('HINCRBY', kTot, subTot, -1) < 0 then
        redis.call('HSET', kTot, subTot, 0)
      end
    end
    for j = 1, #toks - 7, 8 do
      local h = string.sub(toks, j, j + 7)
      rank(h, redis.call('HINCRBY', add, h, 1), sub)
    end
    redis.call('HINCRBY', kTot, addTot, 1)
    redis.call('SET', key, cls .. toks, 'EX', ttl)
    changed = changed + 1
  end
end

-- Over the cap, prune to 90% of it, as the embedded store does.
local n = redis.call('ZCARD', kLast)
if n > maxTok then
  local gone = redis.call('ZPOPMIN', kLast, n - (maxTok - math.floor(maxTok / 10)))
  for j = 1, #gone, 2 do
    redis.call('HDEL', kSpam, gone[j])
    redis.call('HDEL', kHam, gone[j])
  end
end
return changed
