-- release: ARGV[1] lease id, ARGV[2] release channel
-- returns 1 released; 0 unknown lease (never granted, released before, or reaped);
--        -1 the lease had expired (its permits were freed by expiry, not by this call)
repair(ARGV[2])
local now = now_ms()
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
local freed = reap(now)
local result
if not expiry then
  result = 0
elseif tonumber(expiry) <= now then
  result = -1
else
  local n = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  if n > 0 then
    redis.call('DECRBY', KEYS[3], n)
  end
  freed = freed + n
  result = 1
end
if freed > 0 then
  redis.call('PUBLISH', ARGV[2], freed)
end
tidy()
return result
