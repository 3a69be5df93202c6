// Azure Front Door (Standard or Premium) in front of the outputs container: one endpoint, one origin group with a
// health probe, the media account's blob host as its origin (and optionally a second origin at priority 2, which
// serves when the first is unhealthy or disabled) and a route that maps / to /<outputs container>/.
// The account allows no anonymous reads: Front Door needs an authorised origin (Premium with Private Link and its
// identity, or signed URLs) before players can fetch through it; see docs/deploy.md.

@description('Front Door profile name.')
param profileName string

@description('Endpoint name (Azure appends a hash to make its host name unique).')
param endpointName string

@description('Origin group name.')
param originGroupName string

@description('Origin name.')
param originName string

@description('Route name.')
param routeName string

@description('Tier: Standard_AzureFrontDoor, or Premium_AzureFrontDoor for Private Link origins and managed WAF rules.')
@allowed([
  'Standard_AzureFrontDoor'
  'Premium_AzureFrontDoor'
])
param skuName string

@description('Blob host of the media account (<account>.blob.core.windows.net).')
param originHostName string

@description('Host of a second origin at priority 2, e.g. another region\'s media account (empty: none).')
param secondaryOriginHostName string = ''

@description('Container of the packages: the route serves it from the endpoint\'s root.')
param outputsContainer string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

@description('Log Analytics workspace that receives the diagnostics.')
param logAnalyticsWorkspaceId string

resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: profileName
  location: 'global'
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    originResponseTimeoutSeconds: 60
  }
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' = {
  parent: profile
  name: endpointName
  location: 'global'
  tags: tags
  properties: {
    enabledState: 'Enabled'
  }
}

resource originGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' = {
  parent: profile
  name: originGroupName
  properties: {
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3
      additionalLatencyInMilliseconds: 50
    }
    healthProbeSettings: {
      probePath: '/'
      probeRequestType: 'HEAD'
      probeProtocol: 'Https'
      probeIntervalInSeconds: 100
    }
    sessionAffinityState: 'Disabled'
  }
}

resource origin 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = {
  parent: originGroup
  name: originName
  properties: {
    hostName: originHostName
    originHostHeader: originHostName
    httpPort: 80
    httpsPort: 443
    priority: 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
  }
}

resource secondaryOrigin 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = if (!empty(secondaryOriginHostName)) {
  parent: originGroup
  name: '${originName}-secondary'
  properties: {
    hostName: secondaryOriginHostName
    originHostHeader: secondaryOriginHostName
    httpPort: 80
    httpsPort: 443
    priority: 2
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
  }
}

resource route 'Microsoft.Cdn/profiles/afdEndpoints/routes@2024-02-01' = {
  parent: endpoint
  name: routeName
  dependsOn: [
    origin
    secondaryOrigin
  ]
  properties: {
    originGroup: {
      id: originGroup.id
    }
    originPath: '/${outputsContainer}'
    supportedProtocols: [
      'Http'
      'Https'
    ]
    httpsRedirect: 'Enabled'
    forwardingProtocol: 'HttpsOnly'
    patternsToMatch: [
      '/*'
    ]
    linkToDefaultDomain: 'Enabled'
    enabledState: 'Enabled'
    cacheConfiguration: {
      queryStringCachingBehavior: 'IgnoreQueryString'
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${profile.name}-logs'
  scope: profile
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

output hostName string = endpoint.properties.hostName
output profileName string = profile.name
output endpointName string = endpoint.name
output originGroupName string = originGroup.name
output originName string = origin.name
