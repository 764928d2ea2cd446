-- Shared head of the semaphore scripts (prepended to each when loaded).
-- KEYS[1] leases ZSET  lease id -> expiry (server ms)
-- KEYS[2] held   HASH  lease id -> permits held by that lease
-- KEYS[3] used   STRING sum of the permits in `held`
-- All three share one hash tag, so they live in one cluster slot.
-- Time is the server's (TIME), never the client's.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The three keys live and die together: every grant writes all three, and tidy() deletes them
-- together. One can still go alone (a maxmemory policy evicts keys one by one, and these carry a
-- TTL; or a DEL). Each script repairs a torn set first, before it reads anything: a lost count is
-- rebuilt from the permits per lease; with the leases or the permits per lease gone, every lease
-- of the name is forgotten, as an empty restart forgets them (their holders hear it from the next
-- renewal), and `channel` is told, so that waiters ask again.
local function repair(channel)
  local present = redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3])
  if present == 0 or present == 3 then
    return
  end
  if present == 2 and redis.call('EXISTS', KEYS[3]) == 0 then
    local sum = 0
    local held = redis.call('HVALS', KEYS[2])
    for i = 1, #held do
      sum = sum + tonumber(held[i])
    end
    redis.call('SET', KEYS[3], sum)
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then
      redis.call('PEXPIRE', KEYS[3], ttl)
    end
    return
  end
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  redis.call('PUBLISH', channel, 0)
end

-- Removes every lease whose expiry is <= now; returns the permits it freed.
local function reap(now)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  local freed = 0
  for i = 1, #gone do
    freed = freed + tonumber(redis.call('HGET', KEYS[2], gone[i]) or '0')
    redis.call('HDEL', KEYS[2], gone[i])
  end
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  end
  if freed > 0 then
    redis.call('DECRBY', KEYS[3], freed)
  end
  return freed
end

-- Deletes the keys when no lease is left; otherwise keeps them a minute past the last expiry
-- (any script reaps before it reads, so the margin only bounds the memory of an idle name).
local function tidy()
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] == nil then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  else
    local at = tonumber(last[2]) + 60000
    redis.call('PEXPIREAT', KEYS[1], at)
    redis.call('PEXPIREAT', KEYS[2], at)
    redis.call('PEXPIREAT', KEYS[3], at)
  end
end

local function used()
  return tonumber(redis.call('GET', KEYS[3]) or '0')
end
