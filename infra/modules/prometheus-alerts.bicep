// The worker's alert rules in Azure Monitor managed Prometheus: one prometheusRuleGroups resource per group of
// helm/transcoder/files/prometheus-rules.yaml, loaded at build time, so the chart's PrometheusRule and these rules are
// the same file. Only the Azure-specific fields are mapped: `for` (15m) becomes ISO 8601 (PT15M), the severity
// label an Azure severity, and every rule notifies the action group.

@description('Prefix of the rule group names (the group\'s own name follows).')
param ruleGroupPrefix string

@description('Region of the rule groups (the Azure Monitor workspace\'s).')
param location string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

@description('Cluster the rules apply to (managed Prometheus adds its name as the cluster label).')
param clusterName string

@description('Resource id of the cluster.')
param clusterId string

@description('Resource id of the Azure Monitor workspace the rules query.')
param monitorWorkspaceId string

@description('Action group every alert notifies.')
param actionGroupId string

@description('Minutes a fired alert stays open after its expression stops matching.')
@minValue(1)
param resolveAfterMinutes int

var ruleFile = loadYamlContent('../../helm/transcoder/files/prometheus-rules.yaml')
// Azure alert severities: 0 critical, 1 error, 2 warning, 3 informational, 4 verbose
var severities = {
  critical: 0
  error: 1
  warning: 2
  info: 3
}

resource ruleGroups 'Microsoft.AlertsManagement/prometheusRuleGroups@2023-03-01' = [for group in ruleFile.groups: {
  name: '${ruleGroupPrefix}-${group.name}'
  location: location
  tags: tags
  properties: {
    description: 'helm/transcoder/files/prometheus-rules.yaml, group ${group.name}'
    clusterName: clusterName
    scopes: [
      monitorWorkspaceId
      clusterId
    ]
    enabled: true
    interval: 'PT1M'
    rules: [for rule in group.rules: {
      alert: rule.alert
      expression: rule.expr
      for: contains(rule, 'for') ? format('PT{0}', toUpper(rule[?'for'])) : null
      severity: severities[rule.labels.severity]
      labels: rule.labels
      annotations: rule.annotations
      enabled: true
      actions: [
        {
          actionGroupId: actionGroupId
        }
      ]
      resolveConfiguration: {
        autoResolved: true
        timeToResolve: format('PT{0}M', resolveAfterMinutes)
      }
    }]
  }
}]

output ruleGroupNames array = [for (group, i) in ruleFile.groups: ruleGroups[i].name]
