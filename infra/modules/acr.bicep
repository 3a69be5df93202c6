// The container registry the clusters pull the worker image from. Premium: the retention policy for untagged
// manifests, dedicated data endpoints and zone redundancy are Premium features. AcrPull for the kubelet identity
// is granted in cluster-access.bicep, on this registry only.

@description('Registry name (5-50 letters and digits, globally unique).')
@minLength(5)
@maxLength(50)
param name string

@description('Region of the registry.')
param location string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

@description('Registry tier: Premium keeps the untagged-manifest retention policy; Standard has none.')
@allowed([
  'Standard'
  'Premium'
])
param skuName string

@description('Days an untagged manifest is kept before it is deleted (Premium).')
@minValue(0)
@maxValue(365)
param untaggedRetentionDays int

@description('Log Analytics workspace that receives the diagnostics.')
param logAnalyticsWorkspaceId string

var premium = skuName == 'Premium'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    // checkov:skip=CKV_AZURE_139:the clusters and the hosted CI runners reach the registry over its public endpoint, with Entra ID only
    // checkov:skip=CKV_AZURE_163:images are scanned in the pipeline (Trivy, Grype) before they are pushed; Defender is a subscription plan
    // checkov:skip=CKV_AZURE_166:quarantine holds every push until a scanner marks it verified, which would stall each deploy
    adminUserEnabled: false
    anonymousPullEnabled: false
    dataEndpointEnabled: premium
    zoneRedundancy: premium ? 'Enabled' : 'Disabled'
    policies: {
      retentionPolicy: {
        status: premium ? 'enabled' : 'disabled'
        days: untaggedRetentionDays
      }
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${registry.name}-logs'
  scope: registry
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = registry.id
output name string = registry.name
output loginServer string = registry.properties.loginServer
