-- Ends a lease. ARGV: prefix, id, mode: 'end' (its viewer left: one of
-- several requests sharing a movie lease only gives up its share) or 'cut'
-- (a person ended it: all of it, announced on PREFIX.."ended" so the node
-- serving it stops at once). Answers the ended lease's row, or nil.
local id, mode = ARGV[2], ARGV[3]
local l = find(id)
if not l then return false end
if mode == 'end' and tonumber(l.t.share or 0) > 0 then
  l.t.share = l.t.share - 1
  redis.call('HSET', line_key(l.t.line), id, pack(l.t))
  return false
end
remove(id, l.t.line)
if mode == 'cut' then redis.call('PUBLISH', P .. 'ended', id) end
return row(l)
