-- Argo CD health of a diffkeeper.io StateRestore (Lua 5.1, as Argo CD runs it).
hs = {}
hs.status = "Progressing"
hs.message = "Waiting for a node agent to start the restore"
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local phase = obj.status.phase
if phase == "Succeeded" then
  hs.status = "Healthy"
  local parts = {}
  if obj.status.files ~= nil then
    table.insert(parts, tostring(obj.status.files) .. " files")
  end
  if obj.status.source ~= nil then
    table.insert(parts, "from " .. obj.status.source)
  end
  hs.message = "Restored"
  if #parts > 0 then
    hs.message = hs.message .. " " .. table.concat(parts, " ")
  end
  if obj.status.message ~= nil and obj.status.message ~= "" then
    hs.message = hs.message .. ": " .. obj.status.message
  end
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = obj.status.message or "The restore failed"
else
  hs.message = phase
  if obj.status.node ~= nil then
    hs.message = hs.message .. " on node " .. obj.status.node
  end
  if obj.status.message ~= nil and obj.status.message ~= "" then
    hs.message = hs.message .. ": " .. obj.status.message
  end
end
return hs
