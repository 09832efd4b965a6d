-- Argo CD health of an AutopackRun, read from status.phase and the Succeeded condition.
-- Succeeded: Healthy. Failed: Degraded. Suspended or AwaitingApproval: Suspended (a person acts).
-- Anything else, or a status older than the spec: Progressing.
local hs = { status = "Progressing", message = "waiting for the operator" }
if obj.status == nil then
  return hs
end
local status = obj.status
if status.observedGeneration ~= nil and obj.metadata ~= nil and obj.metadata.generation ~= nil
    and status.observedGeneration < obj.metadata.generation then
  hs.message = "the operator has not seen the latest spec yet"
  return hs
end
local message = status.message or ""
local phase = status.phase or "Pending"
if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "Failed" then
  hs.status = "Degraded"
elseif phase == "Suspended" or phase == "AwaitingApproval" then
  hs.status = "Suspended"
else
  hs.status = "Progressing"
end
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Succeeded" and condition.status == "False" and phase ~= "Failed" then
      hs.status = "Degraded"
    end
  end
end
if message == "" then
  message = phase
end
hs.message = message
return hs
