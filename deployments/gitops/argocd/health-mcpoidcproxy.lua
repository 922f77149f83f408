-- Argo CD health of an McpOidcProxy, read from the conditions the operator writes.
-- Register it in argocd-cm under resource.customizations.health.mcp-oidc-proxy.dev_McpOidcProxy
-- (see argocd-cm-patch.yaml next to this file).
local hs = { status = "Progressing", message = "Waiting for the operator to report" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
-- A status written for an older spec says nothing about the current one.
local generation = obj.metadata.generation or 0
if obj.status.observedGeneration == nil or obj.status.observedGeneration < generation then
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end
-- Stalled (kstatus: Failed) means nothing changes until someone acts: Degraded too.
for _, condition in ipairs(obj.status.conditions) do
  if (condition.type == "Degraded" or condition.type == "Stalled") and condition.status == "True" then
    hs.status = "Degraded"
    hs.message = condition.message
    return hs
  end
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    if condition.status == "True" then
      hs.status = "Healthy"
    end
    hs.message = condition.message
    return hs
  end
end
return hs
