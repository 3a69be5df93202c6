// Job records in Azure Cosmos DB for Table (recordsStore 'cosmos', the production choice): the same Table API the
// worker and the Function call (azure-data-tables), with continuous backup, automatic failover and, from a
// parameter, more regions and multi-region writes. No keys: disableLocalAuth, and the identities get the Table
// data-plane role on the one table (cosmos-roles.bicep).

@description('Name of the Cosmos DB account (3-44 lowercase letters, digits and hyphens, globally unique).')
@minLength(3)
@maxLength(44)
param name string

@description('Region of the account (its first, write, region).')
param location string

@description('Further regions, in failover order (empty: one region).')
param failoverLocations array

@description('Accept writes in every region (multi-region writes); needs at least one failover region.')
param multiRegionWrites bool

@description('Job records table.')
param jobsTable string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

@description('Log Analytics workspace that receives the diagnostics.')
param logAnalyticsWorkspaceId string

var primaryLocation = [
  {
    locationName: location
    failoverPriority: 0
    isZoneRedundant: false
  }
]
var secondaryLocations = [for (region, i) in failoverLocations: {
  locationName: region
  failoverPriority: i + 1
  isZoneRedundant: false
}]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    // checkov:skip=CKV_AZURE_101:the workers and the Function reach the records over the public endpoint; keys are off, Entra ID only
    // checkov:skip=CKV_AZURE_99:no IP or VNet filter for the same reason; disableLocalAuth leaves Entra ID data-plane roles as the only access
    databaseAccountOfferType: 'Standard'
    capabilities: [
      {
        name: 'EnableTable'
      }
    ]
    locations: concat(primaryLocation, secondaryLocations)
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    enableAutomaticFailover: true
    enableMultipleWriteLocations: multiRegionWrites
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: {
        tier: 'Continuous7Days'
      }
    }
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource table 'Microsoft.DocumentDB/databaseAccounts/tables@2024-05-15' = {
  parent: account
  name: jobsTable
  tags: tags
  properties: {
    resource: {
      id: jobsTable
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${account.name}-logs'
  scope: account
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Requests'
        enabled: true
      }
    ]
  }
}

output id string = account.id
output name string = account.name
// the Table API endpoint (https://<account>.table.cosmos.azure.com:443/), what TableClient is given
output tableEndpoint string = 'https://${account.name}.table.cosmos.azure.com:443/'
