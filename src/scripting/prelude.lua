-- keel's Lua prelude: runs once in every new interpreter, after the
-- standard libraries and the `redis` table are loaded and before any
-- user script. It seals the environment the way Redis 7.0 does (a
-- read-only global table and read-only library tables, no print /
-- dofile / loadfile, no binary chunks) and returns the error handler
-- used for every script call and the proxy that becomes the globals.
--
-- Stock Lua 5.1 has no read-only tables (Redis patches its Lua for
-- that), so a protected table is an empty proxy whose reads go to the
-- real table and whose writes fail; the few functions that could reach
-- around a proxy (setmetatable, getmetatable, rawset, rawget) are
-- wrapped to respect it.
local G = ...
local dbg = debug
local real_setmt, real_getmt = setmetatable, getmetatable
local real_rawset, real_rawget = rawset, rawget
local real_loadstring = loadstring
local real_pcall, real_type, real_error = pcall, type, error
local real_tostring, real_concat = tostring, table.concat

-- proxy -> the table it stands for
local targets = real_setmt({}, { __mode = 'k' })
-- proxy -> what getmetatable reports for it (false: nothing)
local visible = real_setmt({}, { __mode = 'k' })

local function readonly()
  real_error('Attempt to modify a readonly table', 2)
end

-- Raised from a C function in Redis: no position prefix.
local function readonly_c()
  real_error('Attempt to modify a readonly table', 0)
end

local function protect(t, shown_mt, newindex)
  local p = {}
  targets[p] = t
  visible[p] = shown_mt or false
  real_setmt(p, { __index = t, __newindex = newindex or readonly })
  return p
end

G.setmetatable = function(t, mt)
  if targets[t] ~= nil then
    readonly_c()
  end
  return real_setmt(t, mt)
end
G.getmetatable = function(o)
  local shown = visible[o]
  if shown ~= nil then
    return shown or nil
  end
  return real_getmt(o)
end
G.rawset = function(t, k, v)
  if targets[t] ~= nil then
    readonly_c()
  end
  return real_rawset(t, k, v)
end
G.rawget = function(t, k)
  local target = targets[t]
  if target ~= nil then
    return real_rawget(target, k)
  end
  return real_rawget(t, k)
end

-- Binary chunks are refused: bytecode can break the sandbox.
G.loadstring = function(s, name)
  if real_type(s) == 'string' and s:byte(1) == 27 then
    return nil, 'attempt to load a binary chunk'
  end
  return real_loadstring(s, name)
end
G.load = function(reader, name)
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == '' then
      break
    end
    if real_type(piece) ~= 'string' then
      real_error('reader function must return a string', 2)
    end
    parts[#parts + 1] = piece
  end
  return G.loadstring(real_concat(parts), name or '=(load)')
end

-- Redis's pcall: an error table raised by redis.call comes back as its
-- message.
local function pcall_result(ok, ...)
  if ok then
    return ok, ...
  end
  local e = ...
  if real_type(e) == 'table' then
    local msg = e.err
    if real_type(msg) == 'string' or real_type(msg) == 'number' then
      return false, msg
    end
  end
  return false, e
end
G.pcall = function(f, ...)
  return pcall_result(real_pcall(f, ...))
end

G.print, G.dofile, G.loadfile, G.debug = nil, nil, nil, nil

-- The error handler of every script call: turns any error into a table
-- {err=..., source=..., line=...} naming the user code that failed.
local function err_handler(err)
  local level = 2
  local info = dbg.getinfo(level, 'nSl')
  while info and (info.what == 'C' or info.source == '=keel') do
    level = level + 1
    info = dbg.getinfo(level, 'nSl')
  end
  if real_type(err) ~= 'table' or targets[err] ~= nil then
    err = { err = 'ERR ' .. real_tostring(err) }
  end
  if info then
    err.source = info.source
    err.line = info.currentline
  end
  return err
end

-- Seal: library tables, the string metatable, then the globals.
for _, name in ipairs({ 'string', 'math', 'table', 'coroutine', 'redis' }) do
  G[name] = protect(G[name])
end
local string_mt = real_getmt('')
string_mt.__index = G.string
string_mt.__metatable = protect(string_mt)

real_setmt(G, {
  __index = function(_, k)
    real_error("Script attempted to access nonexistent global variable '" .. real_tostring(k) .. "'", 2)
  end,
})
local globals = protect(G, protect(real_getmt(G), nil, readonly_c))
G._G = globals
return err_handler, globals
