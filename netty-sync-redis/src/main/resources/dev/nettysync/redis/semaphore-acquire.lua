-- acquire: ARGV[1] limit, ARGV[2] permits wanted, ARGV[3] new lease id (client-made, random),
--          ARGV[4] lease ms, ARGV[5] release channel
-- returns {1, available after, lease expiry ms}   granted
--         {0, available, ms until the nearest lease expiry or -1}   refused
-- A lease id is made for one call and never reused, so a live lease under it was granted to this
-- very call by an earlier run whose reply was lost (Lettuce sends a command again after a
-- reconnection): that run is answered again, as granted, and nothing more is taken.
repair(ARGV[5])
local now = now_ms()
local freed = reap(now)
if freed > 0 then
  redis.call('PUBLISH', ARGV[5], freed)
end
local limit = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local inuse = used()
local mine = redis.call('ZSCORE', KEYS[1], ARGV[3])
if mine then
  if freed > 0 then
    tidy()
  end
  return {1, limit - inuse, tonumber(mine)}
end
if inuse + want <= limit then
  local expiry = now + tonumber(ARGV[4])
  redis.call('ZADD', KEYS[1], expiry, ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[3], want)
  inuse = redis.call('INCRBY', KEYS[3], want)
  tidy()
  return {1, limit - inuse, expiry}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if first[2] ~= nil then
  wait = tonumber(first[2]) - now
end
if freed > 0 then
  tidy()
end
return {0, limit - inuse, wait}
