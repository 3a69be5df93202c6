// What the cluster sends to Azure Monitor: managed Prometheus metrics (data collection endpoint and rule to the
// Azure Monitor workspace, associated with the cluster, as the metrics add-on expects) and Container insights
// (a rule to the Log Analytics workspace). The pipeline's identity (canary and health gates) and the Function app's
// (the dashboard's fleet view) may query the metrics.

@description('Cluster name.')
param clusterName string

@description('Azure Monitor workspace name.')
param monitorWorkspaceName string

@description('Log Analytics workspace of Container insights.')
param logAnalyticsWorkspaceId string

@description('Name of the data collection endpoint.')
param endpointName string

@description('Name of the Prometheus data collection rule.')
param prometheusRuleName string

@description('Name of the Container insights data collection rule.')
param containerInsightsRuleName string

@description('Object id of the deploying pipeline\'s identity (empty: no pipeline role).')
param pipelinePrincipalId string

@description('Principal id of the Function app\'s identity (GET /api/fleet queries the workspace).')
param functionPrincipalId string

@description('Region of the endpoint and the rules.')
param location string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

// built-in role definition ids (tests/infra/roles.py lists the same ids by name)
var roles = {
  monitoringDataReader: 'b0d8363b-8ddd-447d-831f-62ca05bff136'
}

resource cluster 'Microsoft.ContainerService/managedClusters@2024-05-01' existing = {
  name: clusterName
}

resource monitorWorkspace 'Microsoft.Monitor/accounts@2023-04-03' existing = {
  name: monitorWorkspaceName
}

resource endpoint 'Microsoft.Insights/dataCollectionEndpoints@2022-06-01' = {
  name: endpointName
  location: location
  tags: tags
  kind: 'Linux'
  properties: {}
}

resource prometheusRule 'Microsoft.Insights/dataCollectionRules@2022-06-01' = {
  name: prometheusRuleName
  location: location
  tags: tags
  kind: 'Linux'
  properties: {
    dataCollectionEndpointId: endpoint.id
    dataSources: {
      prometheusForwarder: [
        {
          name: 'PrometheusDataSource'
          streams: [
            'Microsoft-PrometheusMetrics'
          ]
          labelIncludeFilter: {}
        }
      ]
    }
    destinations: {
      monitoringAccounts: [
        {
          accountResourceId: monitorWorkspace.id
          name: 'monitorWorkspace'
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          'Microsoft-PrometheusMetrics'
        ]
        destinations: [
          'monitorWorkspace'
        ]
      }
    ]
  }
}

// Azure requires this name for the association of a cluster with its data collection endpoint
resource endpointAssociation 'Microsoft.Insights/dataCollectionRuleAssociations@2022-06-01' = {
  name: 'configurationAccessEndpoint'
  scope: cluster
  properties: {
    dataCollectionEndpointId: endpoint.id
  }
}

resource prometheusAssociation 'Microsoft.Insights/dataCollectionRuleAssociations@2022-06-01' = {
  name: '${cluster.name}-prometheus'
  scope: cluster
  properties: {
    dataCollectionRuleId: prometheusRule.id
  }
}

resource containerInsightsRule 'Microsoft.Insights/dataCollectionRules@2022-06-01' = {
  name: containerInsightsRuleName
  location: location
  tags: tags
  kind: 'Linux'
  properties: {
    dataSources: {
      extensions: [
        {
          name: 'ContainerInsightsExtension'
          extensionName: 'ContainerInsights'
          streams: [
            'Microsoft-ContainerInsights-Group-Default'
          ]
          extensionSettings: {
            dataCollectionSettings: {
              interval: '1m'
              namespaceFilteringMode: 'Off'
              enableContainerLogV2: true
            }
          }
        }
      ]
    }
    destinations: {
      logAnalytics: [
        {
          workspaceResourceId: logAnalyticsWorkspaceId
          name: 'logAnalytics'
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          'Microsoft-ContainerInsights-Group-Default'
        ]
        destinations: [
          'logAnalytics'
        ]
      }
    ]
  }
}

resource containerInsightsAssociation 'Microsoft.Insights/dataCollectionRuleAssociations@2022-06-01' = {
  name: '${cluster.name}-container-insights'
  scope: cluster
  properties: {
    dataCollectionRuleId: containerInsightsRule.id
  }
}

resource pipelineMetricsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(pipelinePrincipalId)) {
  name: guid(monitorWorkspace.id, pipelinePrincipalId, roles.monitoringDataReader)
  scope: monitorWorkspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringDataReader)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionMetricsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(monitorWorkspace.id, functionPrincipalId, roles.monitoringDataReader)
  scope: monitorWorkspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringDataReader)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}
