-- Argo CD health of a diffkeeper.io StatePolicy (Lua 5.1, as Argo CD runs it).
hs = {}
hs.status = "Progressing"
hs.message = "Waiting for the DiffKeeper operator"
if obj.status == nil then
  return hs
end
local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end
if obj.status.observedGeneration == nil or obj.status.observedGeneration < generation then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local ready = nil
local degraded = nil
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then
      ready = c
    elseif c.type == "Degraded" then
      degraded = c
    end
  end
end
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = (degraded.reason or "Degraded") .. ": " .. (degraded.message or "")
  return hs
end
if ready == nil then
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Protecting"
  return hs
end
if ready.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = ready.message or "Protection is paused"
  return hs
end
if ready.status == "False" and ready.reason ~= "Deleting" and ready.reason ~= "InstallationIncomplete" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
return hs
