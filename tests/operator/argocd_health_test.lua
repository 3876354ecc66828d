-- Runs the Argo CD health checks of manifests/argocd on the sample objects in
-- tests/operator/argocd/*.json (each: {"kind", "object", "expect": {"status", "message"}}, where
-- "message" is a substring the health message must contain), and checks that the scripts
-- embedded in manifests/argocd/argocd-cm-health.yaml are exactly health/*.lua.
--
--   lua5.4 tests/operator/argocd_health_test.lua <source dir>
-- Exits 1 on the first mismatch list, 0 when all pass. `--live KIND` (below) checks a live object.

local root = arg[1] or "."

local function read(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. path)
  local s = f:read("a")
  f:close()
  return s
end

-- A small JSON decoder (objects, arrays, strings with escapes, numbers, true/false/null).
local function decode(s)
  local pos = 1
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = s:sub(pos, pos)
      if c == '"' then pos = pos + 1; return table.concat(out) end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        local map = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
        if e == "u" then
          table.insert(out, utf8.char(tonumber(s:sub(pos + 2, pos + 5), 16)))
          pos = pos + 6
        else
          table.insert(out, map[e] or e)
          pos = pos + 2
        end
      else
        table.insert(out, c)
        pos = pos + 1
      end
    end
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local t = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return t end
      while true do
        ws()
        local k = str()
        ws(); assert(s:sub(pos, pos) == ":", "expected ':' at " .. pos); pos = pos + 1
        t[k] = value()
        ws()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "}" then return t end
        assert(d == ",", "expected ',' at " .. pos)
      end
    elseif c == "[" then
      local t = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return t end
      while true do
        table.insert(t, value())
        ws()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "]" then return t end
        assert(d == ",", "expected ',' at " .. pos)
      end
    elseif c == '"' then
      return str()
    elseif s:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif s:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif s:sub(pos, pos + 3) == "null" then pos = pos + 4; return nil
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      assert(num and #num > 0, "bad JSON at " .. pos)
      pos = pos + #num
      return tonumber(num)
    end
  end
  return value()
end

-- The value of a "key: |" block scalar in a YAML file (indentation removed).
local function block_scalar(yaml, key)
  local lines, inside, indent = {}, false, nil
  for line in (yaml .. "\n"):gmatch("(.-)\n") do
    if inside then
      local lead = line:match("^( *)%S")
      if lead ~= nil and indent == nil then indent = #lead end
      if lead ~= nil and #lead < indent then break end
      table.insert(lines, line:sub((indent or 0) + 1))
    elseif line:match("^%s*" .. key:gsub("%p", "%%%0") .. ": |%s*$") then
      inside = true
    end
  end
  while #lines > 0 and lines[#lines] == "" do table.remove(lines) end
  return table.concat(lines, "\n") .. "\n"
end

local scripts = {
  StatePolicy = read(root .. "/manifests/argocd/health/statepolicy.lua"),
  StateRestore = read(root .. "/manifests/argocd/health/staterestore.lua"),
}
local failures = {}
local function fail(msg) table.insert(failures, msg) end

local cm = read(root .. "/manifests/argocd/argocd-cm-health.yaml")
for kind, script in pairs(scripts) do
  local embedded = block_scalar(cm, "resource.customizations.health.diffkeeper.io_" .. kind)
  if embedded ~= script then
    fail("argocd-cm-health.yaml: the " .. kind .. " script differs from health/" .. kind:lower() .. ".lua")
  end
end

local function run(kind, object)
  -- Argo CD runs the script with the object as global `obj` and takes its return value.
  local env = setmetatable({ obj = object }, { __index = _G })
  local chunk = assert(load(scripts[kind], kind .. ".lua", "t", env))
  return chunk()
end

-- Live mode (e2e/mission/test-gitops.sh): the health of one object read from stdin.
--   lua5.4 tests/operator/argocd_health_test.lua <source dir> --live StatePolicy < object.json
if arg[2] == "--live" then
  local hs = run(arg[3], decode(io.read("a")))
  print(hs.status .. ": " .. tostring(hs.message))
  os.exit(0)
end

local listing = io.popen('ls "' .. root .. '/tests/operator/argocd/"*.json')
local count = 0
for path in listing:lines() do
  local sample = decode(read(path))
  local ok, hs = pcall(run, sample.kind, sample.object)
  local name = path:match("[^/]+$")
  count = count + 1
  if not ok then
    fail(name .. ": script error: " .. tostring(hs))
  elseif hs.status ~= sample.expect.status then
    fail(name .. ": status " .. tostring(hs.status) .. ", want " .. sample.expect.status ..
      " (message: " .. tostring(hs.message) .. ")")
  elseif sample.expect.message ~= nil and not (hs.message or ""):find(sample.expect.message, 1, true) then
    fail(name .. ": message \"" .. tostring(hs.message) .. "\" lacks \"" .. sample.expect.message .. "\"")
  else
    print("ok   " .. name .. ": " .. hs.status .. " - " .. tostring(hs.message))
  end
end
listing:close()
if count < 8 then fail("found only " .. count .. " samples") end
for _, f in ipairs(failures) do print("FAIL " .. f) end
if #failures > 0 then os.exit(1) end
print(count .. " samples passed")
