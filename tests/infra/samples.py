"""Small broken templates, each breaking one rule, so that every check is seen to fail. Some are written here;
others are a real template with one line changed (``edit``), parsed as if they stood in its place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

INFRA = Path(__file__).resolve().parents[2] / "infra"

_HEAD = """@description('Name.')
param name string

@description('Region.')
param location string

@description('Tags.')
param tags object

"""
_ACCOUNT = """resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${account.name}-metrics'
  scope: account
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}
"""
_ROLE = """
resource grant 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, 'p', 'r')
  %s
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '%s')
    principalId: name
    principalType: 'ServicePrincipal'
  }
}
"""
_CONTAINER = """
resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource uploads 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobs
  name: name
}
"""
_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
_DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"


@dataclass(frozen=True)
class Sample:
    text: str
    path: Path  # where it stands (what relative paths in it are read from)


def _edit(module: str, old: str, new: str) -> Sample:
    path = INFRA / module
    text = path.read_text()
    assert old in text, f"{module} no longer contains {old!r}: update the sample"
    return Sample(text.replace(old, new, 1), path)


def _written(text: str) -> Sample:
    return Sample(text, INFRA / "modules" / "sample.bicep")


def samples() -> dict[str, Sample]:
    with_workspace = _HEAD + "@description('Workspace.')\nparam logAnalyticsWorkspaceId string\n\n"
    return {
        "untagged": _written(with_workspace + _ACCOUNT.replace("  tags: tags\n", "", 1)),
        "literal-region": _written(with_workspace + _ACCOUNT.replace("location: location", "location: 'westeurope'")),
        "literal-name": _written(with_workspace + _ACCOUNT.replace("name: name", "name: 'stmedia0001'", 1)),
        "no-diagnostics": _written(with_workspace + _ACCOUNT.split("\nresource diagnostics")[0]),
        "undocumented-param": _written(with_workspace.replace("@description('Region.')\n", "") + _ACCOUNT),
        "account-scope-role": _written(with_workspace + _ACCOUNT + _ROLE % ("scope: account", _READER)),
        "group-scope-role": _written(with_workspace + _ACCOUNT + _ROLE % ("", _READER)),
        "delegator-on-account": _written(with_workspace + _ACCOUNT + _ROLE % ("scope: account", _DELEGATOR)),
        "delegator-on-container": _written(with_workspace + _ACCOUNT + _CONTAINER
                                           + _ROLE % ("scope: uploads", _DELEGATOR)),
        "unknown-role": _written(with_workspace + _ACCOUNT + _CONTAINER
                                 + _ROLE % ("scope: uploads", "b24988ac-6180-42a0-ab88-20f7382dd24c")),
        "role-off-its-scope": _written(with_workspace + _ACCOUNT + _CONTAINER
                                       + _ROLE % ("scope: uploads", "7f951dda-4ed3-4680-a7ca-43fe172d538d")),
        "alerts-drift": _edit("modules/prometheus-alerts.bicep", "expression: rule.expr", "expression: rule.alert"),
        "alerts-other-file": _edit("modules/prometheus-alerts.bicep",
                                   "transcoder/files/prometheus-rules.yaml')", "transcoder/values.yaml')"),
        "gpu-taint": _edit("modules/aks.bicep", "'sku=gpu:NoSchedule'", "'gpu=true:NoSchedule'"),
        "gpu-reserved-label": _edit("modules/aks.bicep", "workload: 'transcode'",
                                    "'kubernetes.azure.com/accelerator': 'nvidia'"),
        "cosmos-account-scope": _edit("modules/cosmos-roles.bicep", "'${account.id}/dbs/TablesDB/colls/${jobsTable}'",
                                      "account.id"),
        "main-typo": _edit("main.bicep", "    alertEmail: alertEmail\n    monthlyBudget",
                           "    alertMail: alertEmail\n    monthlyBudget"),
        "main-output-typo": _edit("main.bicep", "registry.outputs.loginServer", "registry.outputs.loginserver"),
    }
