-- GCRA (generic cell rate algorithm): one key per limited key, holding the theoretical arrival
-- time (TAT) in server microseconds. A bucket of `burst` permits refilled one per `interval`.
-- KEYS[1] the key's TAT
-- ARGV[1] emission interval in microseconds (1e6 / permits per second; may be fractional)
-- ARGV[2] burst (permits admissible at once)
-- ARGV[3] permits wanted (1 <= permits <= burst; checked by the client too)
-- ARGV[4] longest wait in microseconds the caller accepts (0 = now or never); a grant within
--         it reserves the slot (the TAT moves) and says how long to wait
-- returns {1, wait us (0 = now), permits left}   admitted (after the wait)
--         {0, retry after us, permits left}        refused: would need to wait longer
--         {-2, 0, 0}                              permits > burst: can never be admitted
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
if want > burst or want < 1 then
  return {-2, 0, 0}
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local new_tat = tat + want * interval
local allow_at = new_tat - burst * interval
local wait = allow_at - now
if wait > max_wait then
  local left = math.floor((burst * interval - (tat - now)) / interval)
  return {0, math.ceil(wait), left}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
if wait < 0 then
  wait = 0
end
local left = math.floor((burst * interval - (new_tat - now)) / interval)
if left < 0 then
  left = 0
end
return {1, math.ceil(wait), left}
