-- renew: ARGV[1] lease id, ARGV[2] lease ms, ARGV[3] release channel
-- returns {1, new expiry ms} renewed; {0, 0} the lease is gone (expired, released or unknown)
repair(ARGV[3])
local now = now_ms()
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
local freed = reap(now)
if freed > 0 then
  redis.call('PUBLISH', ARGV[3], freed)
end
if not expiry or tonumber(expiry) <= now then
  tidy()
  return {0, 0}
end
local renewed = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', renewed, ARGV[1])
tidy()
return {1, renewed}
